"""GraphQL object types, one module per concept; each is built with `X.from_model(row)`."""
