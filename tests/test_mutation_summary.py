"""tools/mutation_summary.py: counts per module and status from mutmut's result files, the
pattern filter, and an unexplained survivor failing the command (known equivalent ones
carry their reason)."""

import json

from tools import mutation_summary as ms


def test_summary_counts_filters_and_fails_on_an_unexplained_survivor(tmp_path, monkeypatch):
    meta = tmp_path / "mutants" / "consensus" / "merkle.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": {
        "consensus.merkle.x_f__mutmut_1": 1, "consensus.merkle.x_f__mutmut_2": 0,
        "consensus.merkle.x_g__mutmut_1": 36, "consensus.merkle.x_g__mutmut_2": 33}}))
    (tmp_path / "mutants" / "consensus" / "votes.py.meta").write_text(json.dumps(
        {"exit_code_by_key": {"consensus.votes.x_h__mutmut_1": 0}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ms, "diff", lambda name: ["-    a = 1", "+    a = 2"])
    out = tmp_path / "summary.json"
    assert ms.main(["--out", str(out), "consensus.merkle*"]) == 1
    s = json.loads(out.read_text())
    assert s["modules"] == {"consensus/merkle.py": {"killed": 1, "survived": 1, "timeout": 1,
                                                    "no_tests": 1, "total": 4, "score": 50.0}}
    assert (s["mutants"], s["caught"], s["score"]) == (4, 2, 50.0)
    assert s["open"] == ["consensus.merkle.x_f__mutmut_2", "consensus.merkle.x_g__mutmut_2"]
    assert s["command"] == ("make mutation MUTANTS='consensus.merkle*' "
                            f"MUTATION_OUT={out}")
    # explained survivors (by function and new line): the command passes
    monkeypatch.setattr(ms, "EQUIVALENT", {("consensus.merkle.x_f", "a = 2"): "same value",
                                           ("consensus.merkle.x_g", "a = 2"): "same value"})
    assert ms.main(["--out", str(out), "consensus.merkle*"]) == 0
    s = json.loads(out.read_text())
    assert s["open"] == [] and {x["equivalent"] for x in s["survivors"]} == {"same value"}
    # no results at all: a clear error
    assert ms.main(["--out", str(out), "nothing*"]) == 2
