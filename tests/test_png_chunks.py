"""The PNG chunk walker: what it accepts is what Pillow writes; what it refuses is damaged."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from sync_server.ingest import png


def _saved(mode: str, size: tuple[int, int] = (37, 23)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_sound_pngs_of_every_depth_and_colour_type_pass(mode):
    data = _saved(mode)
    png.check_pixel_data(data)
    info = png.header(data)
    assert (info.width, info.height) == (37, 23)


def test_a_png_cut_anywhere_is_a_defect():
    data = _saved("RGB", (64, 64))
    for cut in (len(data) - 1, len(data) - 12, len(data) // 2, 40):
        with pytest.raises(png.PngDefect):
            png.check_pixel_data(data[:cut])


def test_metadata_is_read_without_touching_pixel_data():
    data = _saved("RGB", (64, 64))
    prefix = data[:60]  # signature, IHDR and the start of IDAT only
    with pytest.raises(png.PastPrefix):
        png.metadata(prefix, whole=False)
    assert png.metadata(data, whole=True) == {}
