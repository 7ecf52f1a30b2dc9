class LoamError(Exception):
    """A Loam repository, ref, dataset or request that cannot be used as asked; the message says why and what to do."""


class ServerError(LoamError):
    """An error the server answered with: `status` (HTTP), `code` and the message."""

    def __init__(self, status, code, message):
        super().__init__(f"{message} ({status} {code})")
        self.status, self.code = status, code
