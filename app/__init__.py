"""buildstate: resumable CI/CD builds."""
