"""LibreOffice opens the DOCX and the XLSX a reviewer gets: both convert to PDF with
``soffice --headless`` and have pages. LibreOffice is required (``.ci/run`` installs it: the
packages libreoffice-writer-nogui and libreoffice-calc-nogui); without it the test fails."""

from __future__ import annotations

import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pdfplumber
import pytest
from complete_forms import complete_forms, squeeze

from dialogs.kinds import sample_answer
from dialogs.spec import all_forms
from dialogs.state import FormState, Stored
from templates.export import rank_rows, write_xlsx


@pytest.fixture(scope="module")
def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.fail(
            "LibreOffice (soffice) is not installed: apt-get install libreoffice-writer-nogui "
            "libreoffice-calc-nogui, as .ci/run does"
        )
    return found


def convert(soffice: str, folder: Path, *files: Path) -> list[Path]:
    """Each file converted to PDF by LibreOffice, with a profile of its own (so that runs in
    parallel do not wait on each other's profile lock)."""
    profile = (folder / "profile").as_uri()
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder / "out"),
            *map(str, files),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return [folder / "out" / f"{file.stem}.pdf" for file in files]


def pages_of(path: Path) -> list[str]:
    assert path.exists(), path
    with pdfplumber.open(BytesIO(path.read_bytes())) as pdf:
        return [squeeze(page.extract_text() or "") for page in pdf.pages]


def test_libreoffice_opens_the_docx_and_the_xlsx(soffice, tmp_path):
    rendered = complete_forms()["so-ban-nganh"]
    form = tmp_path / "phieu.docx"
    form.write_bytes(rendered.docx)
    spec = all_forms()["so-ban-nganh"]
    states = []
    for n in range(3):
        answers = {i.code: Stored(n + 1) for i in spec.items if i.kind == "integer"}
        answers["3.6"] = Stored(n % 2 == 0)
        answers["2.1"] = Stored(sample_answer(spec.by_code["2.1"], 2020))
        states.append((f"Sở thứ {n + 1}", "submitted", FormState(spec, answers)))
    ranking = tmp_path / "xep-hang.xlsx"
    ranking.write_bytes(write_xlsx(spec, 2020, rank_rows(spec, states)))

    form_pdf, ranking_pdf = convert(soffice, tmp_path, form, ranking)

    form_pages = pages_of(form_pdf)
    assert len(form_pages) >= 10  # the whole form, not an error page
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in form_pages[0]
    assert any("TỔNG HỢP ĐIỂM ĐÁNH GIÁ" in page for page in form_pages)
    ranking_pages = pages_of(ranking_pdf)
    assert ranking_pages and "BẢNG XẾP HẠNG" in ranking_pages[0]
    # One page wide: the last section's column is on the first page with the units.
    assert "MỤC 8" in ranking_pages[0] and "Sở thứ 3" in ranking_pages[0]
