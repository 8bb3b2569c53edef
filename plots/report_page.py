"""The report's page: its blocks (paragraphs, tables, figures, sections) and the
two renderers that walk them, a self-contained HTML page and its markdown twin.
plots/report.py decides what the page says; this module only how it looks."""
import html
import re


# ---------------------------------------------------------------- document model
# A report is a list of sections; a section a list of blocks.  Both renderers walk
# the same blocks, so the HTML and the markdown say the same things.


class P:
    def __init__(self, text, cls=None):
        self.text, self.cls = text, cls


class Table:
    """rows: lists of cells; a cell is text or (text, css class)."""

    def __init__(self, headers, rows, cls="data"):
        self.headers, self.rows, self.cls = headers, rows, cls


class Pre:
    def __init__(self, text):
        self.text = text


class Figure:
    def __init__(self, name, title, svg, caption, numbers, warnings):
        self.name, self.title, self.svg, self.caption, self.numbers = name, title, svg, caption, numbers
        self.warnings = warnings


class Details:
    def __init__(self, summary, blocks, open_=False):
        self.summary, self.blocks, self.open = summary, blocks, open_


class Section:
    def __init__(self, ident, title, blocks):
        self.ident, self.title, self.blocks = ident, title, blocks


def text_of(cell):
    return cell[0] if isinstance(cell, tuple) else ("" if cell is None else str(cell))


def inline_svg(svg, name, title):
    """matplotlib's SVG without its XML prologue, with ids made unique to this figure
    (several SVGs share one HTML id space) and a size that follows the page width."""
    svg = re.sub(r"^.*?(?=<svg)", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{name}-{m.group(1)})", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#{name}-{m.group(1)}"', svg)
    # never wider than drawn (a narrow figure blown up to the page has huge letters), narrower on a small screen
    svg = re.sub(r'<svg ([^>]*?)width="([0-9.]+)pt" height="[^"]*"', r'<svg \1style="max-width:\2pt"', svg, count=1)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(title)}" class="figure" ', 1)


# ---------------------------------------------------------------- renderers

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:2em auto;max-width:1200px;
padding:0 1em;color:#1a1a1a;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}th,td{border:1px solid #ccc;padding:.25em .5em;
vertical-align:top;text-align:left}th{background:#f2f2f2}
td.good{background:#e5f5e0}td.bad{background:#fde0dd;font-weight:bold}td.na{color:#555;background:#f7f7f7}
td.warn{background:#fff4e5}td.published,th.published{background:#eeeeee;font-style:italic}
p.warn{background:#fff4f4;border:2px solid #a00000;color:#a00000;padding:.6em;font-weight:bold}
p.bad{color:#a00000;font-weight:bold}p.published{background:#f4f4f4;border-left:4px solid #000;padding:.4em}
figure{margin:1.5em 0;border:1px solid #ddd;padding:.8em}figcaption{font-size:.9em;color:#333}
svg.figure{width:100%;height:auto;display:block}
figcaption span.warn{display:block;margin-top:.4em;color:#a00000;font-weight:bold}
pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:.8em}
nav ul{columns:2}details{margin:.5em 0}summary{cursor:pointer;font-weight:600}
"""


def h(s):
    return html.escape(str(s), quote=True)


def html_block(b):
    if isinstance(b, P):
        return f'<p{" class=" + chr(34) + b.cls + chr(34) if b.cls else ""}>{h(b.text)}</p>'
    if isinstance(b, Pre):
        return f"<pre>{h(b.text)}</pre>"
    if isinstance(b, Table):
        def cell(c, tag):
            txt, cls = (c if isinstance(c, tuple) else (c, None))
            return f'<{tag}{" class=" + chr(34) + cls + chr(34) if cls else ""}>{h("" if txt is None else txt)}</{tag}>'
        head = "".join(cell(c, "th") for c in b.headers)
        body = "".join("<tr>" + "".join(cell(c, "td") for c in r) + "</tr>" for r in b.rows)
        return f'<table class="{h(b.cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    if isinstance(b, Details):
        return f"<details{' open' if b.open else ''}><summary>{h(b.summary)}</summary>{''.join(html_block(x) for x in b.blocks)}</details>"
    if isinstance(b, Figure):
        nums = html_block(Details("Numbers behind this figure", [b.numbers])) if b.numbers else ""
        warn = "".join(f'<span class="warn">{h(w)}</span>' for w in b.warnings)
        return (f'<figure id="fig-{h(b.name)}" data-figure="{h(b.name)}">{b.svg}<figcaption><b>{h(b.title)}.</b> '
                f"{h(b.caption)}{warn}</figcaption>{nums}</figure>")
    raise TypeError(b)


def render_html(header, sections):
    toc = "".join(f'<li><a href="#{s.ident}">{h(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.ident}"><h2>{h(s.title)}</h2>{"".join(html_block(b) for b in s.blocks)}</section>'
                   for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            # no network: nothing may be fetched, not even by a stray reference
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
            f"<title>odfbench report</title><style>{CSS}</style></head><body><h1>odfbench report: fork vs On-Demand-Fork</h1>"
            f"{''.join(html_block(b) for b in header)}<nav><ul>{toc}</ul></nav>{body}</body></html>\n")


def md_escape(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def md_block(b, html_name):
    if isinstance(b, P):
        return ("> **" + b.text + "**" if b.cls in ("warn", "bad") else b.text) + "\n"
    if isinstance(b, Pre):
        return "```\n" + b.text + "\n```\n"
    if isinstance(b, Table):
        out = "| " + " | ".join(md_escape(text_of(c)) for c in b.headers) + " |\n"
        out += "|" + "---|" * len(b.headers) + "\n"
        for r in b.rows:
            out += "| " + " | ".join(md_escape(text_of(c)) for c in r) + " |\n"
        return out
    if isinstance(b, Details):
        return f"**{b.summary}**\n\n" + "\n".join(md_block(x, html_name) for x in b.blocks)
    if isinstance(b, Figure):
        out = f"### {b.title}\n\n*Figure (inline SVG in {html_name}).* {b.caption}\n"
        out += "".join(f"\n> **{w}**\n" for w in b.warnings)
        if b.numbers:
            out += "\nNumbers behind this figure:\n\n" + md_block(b.numbers, html_name)
        return out
    raise TypeError(b)


def render_markdown(header, sections, html_name):
    out = "# odfbench report: fork vs On-Demand-Fork\n\n" + "\n".join(md_block(b, html_name) for b in header)
    for s in sections:
        out += f"\n## {s.title}\n\n" + "\n".join(md_block(b, html_name) for b in s.blocks)
    return out
