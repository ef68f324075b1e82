"""DocChat: chat with your own documents and teach the model your data."""

__version__ = "0.6.0"
