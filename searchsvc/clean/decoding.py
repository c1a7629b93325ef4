"""Page bytes to text.

bs4's ``EncodingDetector`` knows the sniffing rules (BOM, then the declared
``<meta charset>``/``http-equiv``); UTF-8 and then windows-1252 are the fallbacks.
"""
from __future__ import annotations

from bs4.dammit import EncodingDetector

# WHATWG: these labels mean windows-1252 in HTML; a declared UTF-16 on a byte
# stream without a BOM is a lie and means UTF-8.
_ENCODING_ALIASES = {
    "iso-8859-1": "windows-1252", "iso8859-1": "windows-1252", "latin-1": "windows-1252",
    "latin1": "windows-1252", "l1": "windows-1252", "ascii": "windows-1252",
    "us-ascii": "windows-1252", "cp1252": "windows-1252",
    "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8",
}


def decode_html(data: bytes) -> str:
    """Decode page bytes: BOM, then declared charset, else UTF-8, else windows-1252."""
    if isinstance(data, str):
        return data
    data = bytes(data or b"")
    stripped, bom_encoding = EncodingDetector.strip_byte_order_mark(data)
    if bom_encoding:
        return stripped.decode(bom_encoding, errors="replace")
    declared = EncodingDetector.find_declared_encoding(data, is_html=True, search_entire_document=False)
    if declared:
        declared = _ENCODING_ALIASES.get(declared.lower(), declared.lower())
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("windows-1252", errors="replace")
