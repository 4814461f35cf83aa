"""The one exception type for problems a user can cause and fix, and how foreign errors are quoted."""


class StyleTransferError(Exception):
    """A bad input or setting. The message says what went wrong and what to do.

    The CLI prints it as one line and exits non-zero; the app shows it in the page.
    Anything else that escapes is a bug.
    """


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (or its type's name), for quoting in ours."""
    text = str(error).strip()
    return text.splitlines()[0][:limit] if text else type(error).__name__


def short_error(error: BaseException) -> str:
    """``Type: first line``: where the type says something (a network or file-format error)."""
    text = str(error).strip()
    return f"{type(error).__name__}: {first_line(error, 160)}" if text else type(error).__name__
