"""Ingestion: formats, renaming, derived columns, and errors that name the column and rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalelaw import DataError, DataWarning, Runs, fit, load_runs, read_table


def frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run": [f"r{i}" for i in range(n)],
            "params": np.logspace(7, 9, n),
            "tokens": np.logspace(9, 11, n),
            "loss": np.linspace(4.0, 3.0, n),
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl", ".json"])
def test_every_format_reads_the_same_table(tmp_path, suffix):
    df = frame()
    path = tmp_path / f"runs{suffix}"
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".tsv":
        df.to_csv(path, sep="\t", index=False)
    elif suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        path.write_text(json.dumps(df.to_dict(orient="records")))
    runs = load_runs(path)
    assert runs.n_runs == 6
    np.testing.assert_allclose(runs.array("params"), df["params"], rtol=1e-12)
    np.testing.assert_allclose(runs.array("loss"), df["loss"], rtol=1e-12)
    assert list(runs.table.index) == [1, 2, 3, 4, 5, 6]  # row labels count data rows from 1


def test_dataframe_input_is_not_modified():
    df = frame()
    before = df.copy(deep=True)
    runs = load_runs(df, mapping="params=params")
    runs.table.loc[runs.table.index[0], "loss"] = 99.0
    pd.testing.assert_frame_equal(df, before)


def test_mapping_renames_and_flops_is_derived_with_a_note():
    df = frame().rename(columns={"params": "Model Size", "tokens": "Tokens Seen"})
    runs = load_runs(df, mapping=["Model Size=params", "Tokens Seen=tokens"])
    np.testing.assert_allclose(runs.array("flops"), 6 * runs.array("params") * runs.array("tokens"))
    assert any("6 * params * tokens" in note for note in runs.notes)


def test_existing_flops_is_kept():
    df = frame().assign(flops=1e20)
    runs = load_runs(df)
    assert runs.notes == ()
    assert np.all(runs.array("flops") == 1e20)


def test_mapping_of_absent_column_names_it():
    with pytest.raises(DataError, match="'Model Size'"):
        load_runs(frame(), mapping="Model Size=params")


def test_bad_mapping_syntax():
    with pytest.raises(DataError, match="SOURCE=canonical"):
        load_runs(frame(), mapping="params")


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [
        ("tokens", -5.0, r"column 'tokens' has 1 non-positive value\(s\) \(row 3\)"),
        ("params", 0.0, r"column 'params' has 1 non-positive"),
        ("tokens", np.inf, r"column 'tokens' has 1 inf value\(s\) \(row 3\)"),
    ],
)
def test_bad_values_name_column_and_row(tmp_path, column, value, pattern):
    df = frame()
    df.loc[2, column] = value
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match=pattern):
        load_runs(path)


def test_empty_cells_load_with_a_note_and_are_refused_where_read(tmp_path):
    df = frame()
    df.loc[2, "loss"] = np.nan
    path = tmp_path / "gap.csv"
    df.to_csv(path, index=False)
    runs = load_runs(path)
    assert any("column 'loss' has 1 empty value" in n for n in runs.notes)
    # An empty target is an observation not made: the fit leaves the row out and says so.
    with pytest.warns(DataWarning, match=r"dropped 1 of 6 row\(s\) with no 'loss' value"):
        result = fit("power", runs, law_options={"x": "flops"})
    assert result.n_points == len(df) - 1
    # An empty input is refused where it is read, naming the row and what row numbers are.
    df = frame()
    df.loc[2, "tokens"] = np.nan  # flops = 6ND is then empty too
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'flops' has 1 NaN/empty value\(s\) \(row 3\).*1-based"):
        fit("power", load_runs(path), law_options={"x": "flops"})


def test_non_numeric_text_names_rows_and_example(tmp_path):
    df = frame().astype({"params": object})
    df.loc[1, "params"] = "70B"
    df.loc[4, "params"] = "1e9 params"
    path = tmp_path / "text.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'params' has non-numeric text \(rows 2, 5, e\.g\. '70B'\)"):
        load_runs(path)


def test_duplicate_rows_are_rejected():
    df = pd.concat([frame(), frame().iloc[[2]]], ignore_index=True)
    with pytest.raises(DataError, match=r"repeat an earlier row exactly \(row 6\)"):
        Runs.from_frame(df)


def test_duplicate_checkpoint_key_is_rejected():
    df = frame()
    df.loc[3, "run"] = "r1"
    df.loc[3, "tokens"] = df.loc[1, "tokens"]
    with pytest.raises(DataError, match=r"repeat the key \(run, tokens\)"):
        Runs.from_frame(df)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_runs(path)


def test_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("params,tokens,loss\n")
    with pytest.raises(DataError, match="no data rows"):
        load_runs(path)


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(DataError, match="cannot tell the format"):
        read_table(tmp_path / "x.xlsx")
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "missing.csv")


def test_fewer_points_than_parameters():
    with pytest.raises(DataError, match=r"5 parameters .* only 3 row"):
        fit("chinchilla", frame(3))


def test_missing_column_says_how_to_map():
    df = frame().drop(columns="tokens")
    with pytest.raises(DataError, match=r"no column 'tokens'.*--map"):
        fit("chinchilla", df)


def test_non_positive_metric_cannot_be_fitted_on_log_scale():
    # DataFrame rows are named by their index label (here 2), file rows by their 1-based number.
    df = frame().assign(loss=[1.0, 0.5, 0.0, 0.2, 0.1, 0.05])
    with pytest.raises(DataError, match=r"'loss' has 1 non-positive value\(s\) \(row 2\)"):
        fit("power", df, law_options={"x": "params"})


def test_rows_without_run_are_their_own_runs():
    runs = load_runs(frame().drop(columns="run"))
    assert runs.n_runs == 6


def test_fingerprint_changes_with_data():
    a = load_runs(frame())
    b = load_runs(frame().assign(loss=lambda d: d["loss"] + 1e-9))
    assert a.fingerprint(["params", "loss"]) == load_runs(frame()).fingerprint(["params", "loss"])
    assert a.fingerprint(["params", "loss"]) != b.fingerprint(["params", "loss"])
