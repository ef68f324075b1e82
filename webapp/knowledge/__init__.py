"""The knowledge base: file checks and parsing, ingestion into Chroma, the document list."""
