"""Domain errors. Each message is plain words a user can act on (no paths, no tracebacks);
the UI and CLI show `str(error)` and nothing else."""


class WebappError(Exception):
    """Base class of every error the app reports to its users."""


class IngestError(WebappError):
    """A file could not be indexed; the message says why."""


class UnsupportedFileType(IngestError):
    pass


class EmptyFile(IngestError):
    pass


class FileTooLarge(IngestError):
    pass


class ContentMismatch(IngestError):
    pass


class CorruptFile(IngestError):
    pass


class EncryptedFile(IngestError):
    pass


class NoTextFound(IngestError):
    pass


class DocumentNotFound(WebappError):
    pass


class ModelUnavailable(WebappError):
    pass


class DatasetError(WebappError):
    """Training data that cannot be used; the message lists what is wrong."""


class AdapterError(WebappError):
    """An adapter that cannot be trained, found, imported or loaded."""


class TrainingBusy(WebappError):
    pass


class TrainingCancelled(WebappError):
    pass


class InvalidOption(WebappError):
    """A setting sent with a request is out of its accepted range."""
