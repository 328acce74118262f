"""mkdocs hook: a page of docs/ that mkdocs.yml's nav leaves out joins the "User guide" section.

mkdocs builds such a page but lists it in no menu, and says so only at INFO level, which ``--strict`` lets
pass. Pages written in parallel with the nav (each topic page is its own piece of work) would silently
vanish from the menu; here they are appended to the user guide, in file-name order, titled by their first
heading, and the previous/next links are made again over the whole nav.
"""

from __future__ import annotations

from typing import Any

SECTION = "User guide"


def on_nav(nav: Any, config: Any, files: Any, **kwargs: Any) -> Any:
    (section,) = [item for item in nav.items if item.is_section and item.title == SECTION]
    listed = {id(page) for page in nav.pages}
    missing = sorted(
        (f.page for f in files.documentation_pages() if f.page is not None and id(f.page) not in listed),
        key=lambda page: page.file.src_uri,
    )
    if not missing:
        return nav
    last = max(i for i, page in enumerate(nav.pages) if page.parent is section)
    for page in missing:
        page.parent = section
        section.children.append(page)
    nav.pages[last + 1 : last + 1] = missing
    for i, page in enumerate(nav.pages):
        page.previous_page = nav.pages[i - 1] if i > 0 else None
        page.next_page = nav.pages[i + 1] if i + 1 < len(nav.pages) else None
    return nav
