"""The Strawberry GraphQL schema of buildstate: types, queries, mutations, loaders, permissions."""
