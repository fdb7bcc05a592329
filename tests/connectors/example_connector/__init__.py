"""The example connector of docs/write-a-connector.md, kept here so that its code runs."""
