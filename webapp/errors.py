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


class TooMuchText(IngestError):
    """A file holds more text, or splits into more chunks, than one upload may."""


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


class Busy(WebappError):
    """Too many background jobs (trainings, evaluations) are queued or running."""


class TrainingBusy(Busy):
    pass


class Cancelled(WebappError):
    """A background job stopped because its owner cancelled it."""


class TrainingCancelled(Cancelled):
    pass


class InvalidOption(WebappError):
    """A setting sent with a request is out of its accepted range."""


class QuotaExceeded(IngestError):
    """The owner's documents would exceed the number or total size allowed per user."""


class DiskFull(IngestError):
    """The server's disk filled up while a file was being stored; nothing was kept."""


class StorageBusy(WebappError):
    """Another process already writes to this storage folder."""


class UnsafeFile(IngestError):
    """A file built like an attack (zip bomb, XML entities): refused before it is read."""


class ParseTimeout(IngestError):
    """Reading the file ran past the time limit and was stopped."""


class ParseMemoryExceeded(IngestError):
    """Reading the file needed more memory than allowed and was stopped."""


class ParseCrashed(CorruptFile):
    """The process reading the file died (a damaged or hostile file)."""


class ReaderUnavailable(IngestError):
    """The separate process that reads files could not be started."""


class StoreUnavailable(WebappError):
    """The Chroma server (or the inference or embedding server) cannot be reached right now."""
