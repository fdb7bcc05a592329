"""IBM's single-byte EBCDIC code pages, as differences from code page 037.

Why a table of our own: Python's codecs cover only some of IBM's code pages, and one of
them (cp273) maps byte 0xBC to U+203E OVERLINE where IBM's published table and glibc's
`iconv -f IBM273` have U+00AF MACRON. Each page below is code page 037 (Python's cp037,
which equals IBM's table on all 256 bytes) with the bytes listed here changed: a string of
entries, each two hex digits (the byte) followed by its character. The strings were made
from glibc's iconv tables; tests/connectors/mainframe/test_code_pages.py checks every byte
of every page against `iconv -f IBM<page>` on the machine that runs the tests.

The euro pages (1140-1149) are the national pages 037, 273, 277, 278, 280, 284, 285, 297,
500 and 871 with the euro sign at 0x9F (and, for 1143, 1146 and 1149, IBM's later
corrections of their base page).
"""

from __future__ import annotations

BASE = "cp037"
DIFFERENCES_FROM_CP037 = {
    "cp273": "43{4AÄ4F!59~5AÜ5F^63[6Aö7C§A1ßB0¢B5@BA¬BB|C0äCC¦D0üDC}E0ÖEC\\FC]",
    "cp277": "47}4A#4F!5A¤5BÅ5F^67$6Aø70¦7BÆ7CØ80@9C{9E[9F]A1üB0¢BA¬BB|C0æD0åDC~",
    "cp278": "43{47}4A§4F!51`5A¤5BÅ5F^63#67$6Aö79é7BÄ7CÖ9F]A1üB0¢B5[BA¬BB|C0äCC¦D0åDC~EC@",
    "cp280": "44{48\\4A°4F!51]54}58~5Aé5F^6Aò79ù7B£7C§90[A1ìB0¢B1#B5@BA¬BB|C0àCD¦D0èDD`E0ç",
    "cp284": "49¦4A[5A]69#6Añ7BÑA1¨B0¢BA^BB!BD~",
    "cp285": "4A$5B£A1‾B0¢B1[BA^BC~",
    "cp297": "44@48\\4A°4F!51{54}5A§5F^6Aù79µ7B£7Cà90[A0`A1¨B0¢B1#B5]BA¬BB|BD~C0éD0èDD¦E0ç",
    "cp500": "4A[4F!5A]5F^B0¢BA¬BB|",
    "cp871": "4Aþ4F!5AÆ5FÖ79ð7CÐ8C`8E{9C}9E]A1öAC@AE[B0¢BA¬BB|BE\\C0ÞCC~D0æE0´EC^",
    "cp1047": "5F^AD[B0¬BAÝBB¨BD]",
    "cp1140": "9F€",
    "cp1141": "43{4AÄ4F!59~5AÜ5F^63[6Aö7C§9F€A1ßB0¢B5@BA¬BB|C0äCC¦D0üDC}E0ÖEC\\FC]",
    "cp1142": "47}4A#4F!5A€5BÅ5F^67$6Aø70¦7BÆ7CØ80@9C{9E[9F]A1üB0¢BA¬BB|C0æD0åDC~",
    "cp1143": "43{47}4A§4F!51`5A€5BÅ5F^63#67$6Aö71\\79é7BÄ7CÖ9F]A1üB0¢B5[BA¬BB|C0äCC¦D0åDC~E0ÉEC@",
    "cp1144": "44{48\\4A°4F!51]54}58~5Aé5F^6Aò79ù7B£7C§90[9F€A1ìB0¢B1#B5@BA¬BB|C0àCD¦D0èDD`E0ç",
    "cp1145": "49¦4A[5A]69#6Añ7BÑ9F€A1¨B0¢BA^BB!BD~",
    "cp1146": "4A$5B£9F€A1¯B0¢B1[BA^BC~",
    "cp1147": "44@48\\4A°4F!51{54}5A§5F^6Aù79µ7B£7Cà90[9F€A0`A1¨B0¢B1#B5]BA¬BB|BD~C0éD0èDD¦E0ç",
    "cp1148": "4A[4F!5A]5F^9F€B0¢BA¬BB|",
    "cp1149": "4AÞ4F!5AÆ5FÖ79ð7CÐ8C`8E{9C}9E]9F€A1öAC@AE[B0¢BA¬BB|BE\\C0þCC~D0æE0´EC^",
}


def ebcdic_characters(name: str) -> list[str]:
    """The 256 characters of EBCDIC code page `name` (a key of the table, or cp037)."""
    chars = list(bytes(range(256)).decode(BASE))
    entries = DIFFERENCES_FROM_CP037.get(name, "") if name != BASE else ""
    for i in range(0, len(entries), 3):
        chars[int(entries[i : i + 2], 16)] = entries[i + 2]
    return chars
