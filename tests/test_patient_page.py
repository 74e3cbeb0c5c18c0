"""AppTest: the 'Evidence for a patient' page — a profile entered in the form, the answer in sections, the profile in
the URL and restored from it, a bad link explained, the download, and the same answer as the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest, app_test

from kb.__main__ import main
from kb.patient import ID_KEYS
from ui.widgets import escape

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60
KIND_SECTIONS = {"study": "studies", "schedule": "dose_schedules", "signal": "drug_signals",
                 "recommendation": "recommendations", "imaging": "imaging", "excluded study": "studies_excluded",
                 "excluded recommendation": "recommendations_excluded"}
ITEM_ID = re.compile(r":gray\[KB (" + "|".join(KIND_SECTIONS) + r") id\] `([^`]+)`")


def open_page(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("pages/patient.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_items(at: AppTest) -> dict[str, dict[str, str]]:
    """{section: {item id: its Markdown}} in the order the page shows them (dicts keep order)."""
    items: dict[str, dict[str, str]] = {section: {} for section in KIND_SECTIONS.values()}
    for block in (m.value for m in at.markdown):
        for part in block.split("\n\n---\n\n"):
            found = ITEM_ID.search(part)
            if found:
                items[KIND_SECTIONS[found[1]]][found[2]] = part
    return items


def cli_answer(built_db, capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["patient", *args, "--json", "--db", str(built_db)]) == 0
    return json.loads(capsys.readouterr().out)


def param(at: AppTest, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) and len(value) == 1 else value


@pytest.fixture
def downloaded(monkeypatch):
    """What a download button would deliver (AppTest keeps the bytes in its in-memory media storage)."""
    storages: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            storages.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)

    def read(at: AppTest, key: str) -> bytes:
        button = next(b for b in at.get("download_button") if key in b.id)
        return storages[-1].get_file(button.proto.url.rsplit("/", 1)[-1]).content

    return read


# ------------------------------------------------------------------------------------------------ the form
def test_empty_form_asks_for_the_tumour_and_says_it_never_recommends(built_db):
    at = open_page()
    assert any("never recommends a treatment" in i.value for i in at.info)
    assert any("Choose the primary tumour" in c.value for c in at.caption)
    assert not page_items(at)["studies"]


def test_a_profile_entered_in_the_form_shows_every_section_and_goes_to_the_url(built_db):
    at = open_page()
    at.selectbox(key="pt_histology").set_value("breast_her2pos")
    at.selectbox(key="pt_setting").set_value("intact")
    at.number_input(key="pt_mets").set_value(3)
    at.number_input(key="pt_diameter").set_value(2.0)
    at.radio(key="pt_prior").set_value("no")
    at.multiselect(key="pt_drug").set_value(["trastuzumab_emtansine"])
    at.run()
    assert not at.exception
    labels = [t.label for t in at.tabs]
    for title in ("Studies", "Dose schedules", "Drug signals", "Guidelines", "Imaging", "What the KB does not know"):
        assert any(label.startswith(title + " (") for label in labels), labels
    items = page_items(at)
    assert "n0574" in items["studies"] and "tdm1_stumpf2019_csrn" in items["drug_signals"]
    assert "minniti2016__mf_27gy_3fx" in items["dose_schedules"] and "degro_2024_breast__r01" in items[
        "recommendations"]
    assert "Why it matches" in items["studies"]["n0574"] and "1–3 eligible; the patient has 3" in items["studies"][
        "n0574"]
    assert any(h.value.startswith("Eligibility not recorded in the KB") for h in at.subheader)
    assert (param(at, "histology"), param(at, "mets"), param(at, "diameter"), param(at, "setting"),
            param(at, "prior"), param(at, "drug")) == ("breast_her2pos", "3", "2", "intact", "no",
                                                       "trastuzumab_emtansine")


def test_a_shared_link_restores_the_profile_on_a_fresh_run(built_db):
    at = open_page(histology="melanoma", mets="6", setting="intact", prior="yes",
                   drug=["pembrolizumab", "corticosteroids"])
    assert at.selectbox(key="pt_histology").value == "melanoma"
    assert at.selectbox(key="pt_setting").value == "intact"
    assert at.number_input(key="pt_mets").value == 6
    assert at.number_input(key="pt_diameter").value is None
    assert at.radio(key="pt_prior").value == "yes"
    assert at.multiselect(key="pt_drug").value == ["pembrolizumab", "corticosteroids"]
    items = page_items(at)
    assert "cyber_space" in items["studies"] and "n0574" in items["studies_excluded"]
    assert any("Melanoma · 6 brain metastases" in m.value for m in at.markdown)


def test_a_bad_value_in_the_link_is_explained_and_left_out(built_db):
    at = open_page(histology="melanoma", diameter="50", drug=["xyz", "nivolumab"], setting="banana")
    # what a reader sees: the Markdown escapes and invisible word joiners that keep stored text inert removed
    warning = re.sub(r"\\(.)", r"\1", " ".join(w.value for w in at.warning)).replace("\u2060", "")
    assert "over 10 cm" in warning and "Unknown drug 'xyz'" in warning and "Unknown setting 'banana'" in warning
    assert at.number_input(key="pt_diameter").value is None
    assert at.multiselect(key="pt_drug").value == ["nivolumab"]
    assert page_items(at)["studies"]


def test_a_hostile_link_is_shown_as_text(built_db):
    at = open_page(histology="[click](http://evil.example)", diameter="0.01", drug=["<b>x</b>"] * 12)
    warning = " ".join(w.value for w in at.warning)
    assert "\\[click\\]\\(" in warning and "](http" not in warning   # brackets escaped: no link
    assert escape("at least 0.1 cm") in warning and "\\<b\\>" in warning
    assert warning.count("Unknown drug") == 1  # the same problem is said once
    assert at.number_input(key="pt_diameter").value is None and not at.exception


def test_stored_text_is_shown_as_text_not_markup(built_db):
    at = open_page(histology="breast_her2pos", setting="intact", drug="trastuzumab_emtansine")
    block = page_items(at)["drug_signals"]["tdm1_stumpf2019_csrn"]
    assert "\\(T\\-DM1\\)" in block  # parentheses and hyphens escaped, so no stored text can become a link
    assert "nan" not in re.findall(r"\b\w+\b", block) and "None" not in block


def test_the_download_is_a_one_page_markdown_summary_with_citations(built_db, downloaded):
    at = open_page(histology="breast_her2pos", mets="3", diameter="2", setting="intact",
                   drug="trastuzumab_emtansine")
    summary = downloaded(at, "pt_download").decode("utf-8")
    assert summary.startswith("# Evidence for a patient — BrainMets KB")
    assert "**Profile:** Breast cancer HER2-positive · 3 brain metastases" in summary
    assert "never recommends a treatment" in summary and "## Citations" in summary
    assert "https://pubmed.ncbi.nlm.nih.gov/30940654/" in summary


# ------------------------------------------------------------------------------------------------ page = CLI
SAME_ANSWER = [
    ({"histology": "breast_her2pos", "mets": "3", "diameter": "2", "setting": "intact",
      "drug": ["trastuzumab_emtansine"]},
     ["--histology", "HER2+ breast", "--metastases", "3", "--diameter-cm", "2", "--setting", "intact", "--drug",
      "T-DM1"]),
    ({"histology": "melanoma", "mets": "2", "setting": "recurrent", "prior": "yes", "drug": ["nivolumab"]},
     ["--histology", "melanoma", "--metastases", "2", "--setting", "recurrence after SRS", "--prior-radiation",
      "--drug", "Opdivo"]),
    ({"histology": "nsclc", "mets": "1", "diameter": "4.5", "setting": "preoperative"},
     ["--histology", "NSCLC", "--metastases", "1", "--diameter-cm", "4.5", "--setting", "before planned surgery"]),
]


@pytest.mark.parametrize("params, args", SAME_ANSWER, ids=["her2-t-dm1", "melanoma-recurrence", "preoperative"])
def test_the_page_and_the_command_give_the_same_answer(built_db, capsys, params, args):
    answer = cli_answer(built_db, capsys, *args)
    at = open_page(**params)
    shown = page_items(at)
    for section in KIND_SECTIONS.values():
        key = ID_KEYS[section.removesuffix("_excluded")]
        assert list(shown[section]) == [item[key] for item in answer[section]], section
        for item in answer[section]:
            for reason in item["why"]:
                assert escape(reason) in shown[section][item[key]], (section, item[key], reason)
    gaps = next(m.value for m in at.markdown if m.value.startswith("- ") and "KB" in m.value and "gray" not in
                m.value)
    assert gaps.splitlines() == [f"- {escape(gap)}" for gap in answer["gaps"]]
    assert any(escape(answer["profile"]["summary"]) in m.value for m in at.markdown)
