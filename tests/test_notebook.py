"""The walk-through notebook runs top to bottom."""

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "image.ipynb"


def test_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the notebook extra is not installed")
    nbclient = pytest.importorskip("nbclient", reason="the notebook extra is not installed")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # original, scatter, palette
    pages = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    # A Result shows the original and the result side by side with the figures; a sweep
    # its table and rate-distortion plot.
    assert any("original" in p and "SSIMULACRA2" in p and p.count("<img") >= 2 for p in pages)
    assert any("<table>" in p and "rate-distortion" in p for p in pages)
    assert any('src="data:image/gif;base64,' in p and "flicker" in p for p in pages)  # animation
    text = "".join(o.get("text", "") for o in outputs)
    assert "distinct colours" in text and "bits per pixel" in text and "k = " in text
