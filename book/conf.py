# Sphinx configuration of the book. Build it with `make book` (output in
# build/book/html); book/reference/writing.md says how pages are written.
import os
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent
REPO = BOOK.parent
sys.path.insert(0, str(BOOK / "_ext"))

project = "x86_64 kernel memory management, one bootable chapter at a time"
author = "the tutorial's authors"
copyright = "the tutorial's authors"

extensions = ["myst_parser", "kernelbook"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["README.md", "_build"]
templates_path = []

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# kernelbook: where the repository, the build and the captured boot logs are.
book_repo_root = str(REPO)
book_build_dir = os.environ.get("BOOK_BUILD_DIR", str(REPO / "build"))
book_logs_dir = os.environ.get("BOOK_LOGS_DIR", str(REPO / "build" / "book" / "logs"))
book_source_roots = ["chapters", "common"]
# Every {excerpt} and {bootlog} carries its README copy (make sync-docs).
book_require_inline_copies = True

html_theme = "furo"
html_title = "Kernel memory management, chapter by chapter"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_show_sourcelink = False
html_copy_source = False
pygments_style = "default"
