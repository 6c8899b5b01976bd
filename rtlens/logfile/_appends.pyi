# The C reader of user audio appends (see _appends.c for what each function does).
from typing import Any

Run = tuple[int, list[int], list[str | None], list[int], list[int], int]

def scan(block: bytes, pos: int, end: int, /) -> Run | None: ...
def lines(
    out: list[bytes],
    run: Run,
    line_no: int,
    file_index: int,
    seq: int,
    first_us: int,
    pieces: tuple[bytes, ...],
    raws: tuple[tuple[bytes, bytes], ...],
    client_types: dict[str, Any],
    kind: Any,
    /,
) -> None: ...
