"""Reading uploaded BPMN and DMN files without letting the XML reach outside itself.

A DOCTYPE is how XML external entities (read `/etc/passwd`, fetch a URL) and entity-expansion bombs
("billion laughs") get in, and no BPMN or DMN file needs one, so any document that declares a DOCTYPE is
refused before lxml parses it; the parser itself is also hardened so it never loads a DTD, resolves an
entity or touches the network.
"""

from __future__ import annotations

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# DMN 1.1 to 1.5 (the http/https spelling of a namespace varies between tools).
DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "1.1",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    "https://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "1.3",
    "http://www.omg.org/spec/DMN/20191111/MODEL/": "1.3",
    "https://www.omg.org/spec/DMN/20211108/MODEL/": "1.4",
    "http://www.omg.org/spec/DMN/20211108/MODEL/": "1.4",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "1.5",
    "http://www.omg.org/spec/DMN/20230324/MODEL/": "1.5",
}

_DOCTYPE = "<!DOCTYPE"
# The keyword as it appears in the encodings XML parsers detect on their own.
_DOCTYPE_BYTES = [
    (_DOCTYPE.encode(encoding), encoding) for encoding in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
]

DOCTYPE_REFUSED = (
    "The file declares a DOCTYPE. govflow refuses DOCTYPEs and entity declarations in uploaded XML because "
    "they can make the server read its own files or exhaust its memory; BPMN and DMN files never need one. "
    "Remove the <!DOCTYPE ...> declaration and upload the file again."
)


# libxml2 stops at 256 levels unless told to build huge trees, which govflow never does.
NESTED_TOO_DEEP = (
    "The file has elements nested more than 256 levels deep, which no BPMN or DMN file needs (a process "
    "nests a level per subprocess); the upload was not read further."
)


class XmlRefused(Exception):
    """The file cannot be read as XML (or must not be): a sentence and the line it concerns."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def hardened_parser() -> etree.XMLParser:
    """An lxml parser that never loads a DTD, resolves an entity, touches the network or builds huge trees."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def read_xml(data: bytes | str) -> etree._Element:
    """The root element of an uploaded XML document; XmlRefused with a sentence if it is not safe XML."""
    if isinstance(data, str):
        # lxml refuses str input with an encoding declaration; the text is UTF-8 once encoded.
        data = data.encode("utf-8")
    if not data.strip():
        raise XmlRefused("The file is empty.")
    line = _doctype_line(data)
    if line is not None:
        raise XmlRefused(DOCTYPE_REFUSED, line)
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        if "Excessive depth in document" in str(exc.msg or exc):
            raise XmlRefused(NESTED_TOO_DEEP, exc.lineno or None) from None
        raise XmlRefused(f"The file is not well-formed XML: {_reason(exc)}", exc.lineno or None) from None
    docinfo = root.getroottree().docinfo
    # A second look for encodings the byte scan does not know: the parse above was safe either way.
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlRefused(DOCTYPE_REFUSED, 1)
    return root


def local_name(element: etree._Element) -> str:
    """An element's tag without its namespace."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def namespace(element: etree._Element) -> str:
    """An element's namespace URI ('' for none)."""
    tag = element.tag
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].partition("}")[0]
    return ""


def is_bpmn(root: etree._Element) -> bool:
    """Whether the root is a BPMN 2.0 <definitions>."""
    return root.tag == f"{{{BPMN_NS}}}definitions"


def dmn_namespace(root: etree._Element) -> str | None:
    """The DMN namespace of a DMN document's <definitions> root, else None."""
    ns = namespace(root)
    if local_name(root) == "definitions" and ns in DMN_NAMESPACES:
        return ns
    return None


def describe_root(root: etree._Element) -> str:
    """The root element as a message names it."""
    ns = namespace(root)
    return f"<{local_name(root)}> in the namespace {ns}" if ns else f"<{local_name(root)}> without a namespace"


def _doctype_line(data: bytes) -> int | None:
    for keyword, encoding in _DOCTYPE_BYTES:
        position = data.find(keyword)
        if position >= 0:
            newline = "\n".encode(encoding)
            return data.count(newline, 0, position) + 1
    return None


def _reason(exc: etree.XMLSyntaxError) -> str:
    message = str(exc.msg or exc)
    # lxml appends ", line N, column M" which the problem carries separately.
    head, sep, _ = message.rpartition(", line ")
    return head if sep else message
