"""SVG images: parsed with a hardened XML parser, refused unless every element and attribute is on an
allowlist and every reference is a local fragment, then written out again from the parsed tree, so
that what ships is exactly what was checked (no DOCTYPE, comment or processing instruction survives).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from companion.source.csscheck import declarations_references, stylesheet_references, value_references

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
XML = "http://www.w3.org/XML/1998/namespace"

_ELEMENT_NAMES = """svg g defs title desc symbol use path rect circle ellipse line polyline polygon text tspan
    textPath linearGradient radialGradient stop clipPath mask pattern marker style switch filter
    feGaussianBlur feOffset feBlend feColorMatrix feFlood feComposite feMerge feMergeNode"""
ELEMENTS = frozenset(_ELEMENT_NAMES.split())
"""Drawing, text, paint servers and simple filters: no script, foreignObject, image, animation, a."""

_ATTRIBUTE_NAMES = """id class style transform x y x1 y1 x2 y2 cx cy r rx ry fx fy width height d
    points pathLength viewBox preserveAspectRatio version baseProfile fill fill-opacity fill-rule
    stroke stroke-width
    stroke-dasharray stroke-dashoffset stroke-linecap stroke-linejoin stroke-miterlimit stroke-opacity
    opacity color display visibility overflow font-family font-size font-style font-weight font-variant
    font-stretch text-anchor dominant-baseline alignment-baseline baseline-shift letter-spacing
    word-spacing text-decoration writing-mode direction unicode-bidi dx dy rotate lengthAdjust textLength
    startOffset method spacing side offset stop-color stop-opacity gradientUnits gradientTransform
    spreadMethod clip-path clip-rule clipPathUnits mask maskUnits maskContentUnits patternUnits
    patternContentUnits patternTransform marker-start marker-mid marker-end markerWidth markerHeight
    markerUnits refX refY orient filter filterUnits primitiveUnits stdDeviation in in2 result mode
    operator k1 k2 k3 k4 values type flood-color flood-opacity color-interpolation-filters
    shape-rendering text-rendering image-rendering vector-effect paint-order media lang role
    aria-label aria-labelledby aria-describedby aria-hidden focusable href"""
ATTRIBUTES = frozenset(_ATTRIBUTE_NAMES.split())
_NAMESPACED = frozenset({f"{{{XLINK}}}href", f"{{{XLINK}}}title", f"{{{XML}}}space", f"{{{XML}}}lang"})
MAX_SVG_ELEMENTS = 50_000


@dataclass(frozen=True)
class Clean:
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Unsafe:
    code: str
    """C032: not an SVG at all; C034: an SVG with something we do not ship."""
    message: str


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_blank_text=False,
    )


def _local(name: str) -> str:
    return etree.QName(name).localname


def _bad_reference(values: list[str]) -> str | None:
    return next((v for v in values if not v.startswith("#") or len(v) < 2), None)


def clean_svg(data: bytes) -> Clean | Unsafe:
    """The SVG written out again from its parsed tree, or why it is refused."""
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except (etree.XMLSyntaxError, ValueError) as exc:
        return Unsafe("C032", f"not well-formed SVG ({getattr(exc, 'msg', exc)})")
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        return Unsafe("C034", "a DOCTYPE (DTDs and entity declarations are not allowed)")
    root = tree.getroot()
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction):
            return Unsafe("C034", f"processing instruction <?{sibling.target}?>")
    if root.tag != f"{{{SVG}}}svg":
        return Unsafe("C032", "the file's root element is not <svg>")
    for count, node in enumerate(root.iter(), 1):
        if count > MAX_SVG_ELEMENTS:
            return Unsafe("C034", f"more than {MAX_SVG_ELEMENTS:,} elements")
        problem = _node_problem(node)
        if problem is not None:
            return Unsafe("C034", problem)
    out = etree.tostring(root, encoding="utf-8", xml_declaration=True)
    return Clean(out, _length(root.get("width")) or 300, _length(root.get("height")) or 150)


def _node_problem(node: etree._Element) -> str | None:
    if isinstance(node, etree._Entity):
        return f"entity reference &{node.name};"
    if isinstance(node, etree._ProcessingInstruction):
        return f"processing instruction <?{node.target}?>"
    if not isinstance(node.tag, str):
        return "an XML node that is not an element"
    qname = etree.QName(node.tag)
    if qname.namespace != SVG:
        return f"<{qname.localname}> element from namespace {qname.namespace or '(none)'}"
    if qname.localname not in ELEMENTS:
        return f"<{qname.localname}> element"
    for name, value in node.attrib.items():
        if name not in ATTRIBUTES and name not in _NAMESPACED:
            return f"attribute `{_local(name)}` on <{qname.localname}>"
        local = _local(name)
        if local == "href":
            if not value.strip().startswith("#") or len(value.strip()) < 2:
                return f"external reference `{value[:60]}`"
            continue
        refs = declarations_references(value) if local == "style" else value_references(value)
        bad = _bad_reference([r.target for r in refs])
        if bad is not None:
            return f"attribute `{local}` refers to `{bad[:60]}`, which is not in the image"
    if qname.localname == "style":
        refs = stylesheet_references(node.text or "")
        if any(r.kind != "url" for r in refs):
            return "style sheet with @import"
        bad = _bad_reference([r.target for r in refs])
        if bad is not None:
            return f"style sheet refers to `{bad[:60]}`, which is not in the image"
    return None


def _length(value: str | None) -> int:
    text = (value or "").strip()
    number = ""
    for ch in text:
        if not (ch.isdigit() or ch == "."):
            break
        number += ch
    try:
        return int(float(number)) if number else 0
    except ValueError:
        return 0
