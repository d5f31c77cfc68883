"""emojax.data.table: the user's utterance table (CSV) -> Corpus, and its error messages."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from emojax.data.corpus import Corpus, sequences
from emojax.data.table import TableError, check_speakers, load_table, parse_table_spec

HEADER = "session,dialog,turn,speaker,utterance_id,gender,valence,activation,category,f1,f2,f3"
ROWS = [
    "S1,d1,2,A,u1,F,2.5,3.0,neu,0.1,1.5,-3",
    "S1,d1,1,B,u2,M,4,1,ang,0.2,2.5,-2",
    "S1,d1,3,A,u3,F,1,5,sad,0.3,3.5,-1e-3",
    "S2,d2,1,B,u4,M,3.25,2.75,neu,0.4,4.5,7",
    "S2,d2,2,A,u5,F,5,1.5,hap,0.5,5.5,8",
]


def write(tmp_path: Path, lines: list[str], name: str = "utts.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def raises_at(path: Path, line: int, column: str | None = None, **kw) -> str:
    """Load `path` expecting a TableError at `line` (and naming `column`); return the message."""
    with pytest.raises(TableError) as info:
        load_table(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:{line}:"), msg
    if column is not None:
        assert f"'{column}'" in msg, msg
    return msg


def replace_cell(row: str, col: str, value: str) -> str:
    cells = row.split(",")
    cells[HEADER.split(",").index(col)] = value
    return ",".join(cells)


# ------------------------------------------------------------------------------------------------
# Valid tables


def test_valid_table_round_trips(tmp_path):
    p = write(tmp_path, [HEADER, *ROWS])
    c = load_table(p)
    assert isinstance(c, Corpus) and len(c) == 5
    assert c.name == f"table:{p}"
    assert c.feature_names == ("f1", "f2", "f3")
    assert c.features.dtype == np.float32 and c.features.shape == (5, 3)
    np.testing.assert_array_equal(c.features[:, 0], np.float32([0.1, 0.2, 0.3, 0.4, 0.5]))
    np.testing.assert_array_equal(c.features[2], np.float32([0.3, 3.5, -1e-3]))
    # file order is kept, nothing sorted by turn or speaker
    assert c.utterance_id.tolist() == ["u1", "u2", "u3", "u4", "u5"]
    assert c.turn.dtype == np.int64 and c.turn.tolist() == [2, 1, 3, 1, 2]
    assert c.speaker.tolist() == ["A", "B", "A", "B", "A"]
    assert c.dialog.tolist() == ["d1", "d1", "d1", "d2", "d2"]
    assert c.session.tolist() == ["S1", "S1", "S1", "S2", "S2"]
    for a in (c.utterance_id, c.session, c.dialog, c.speaker, c.category):
        assert a.dtype.kind == "U"
    assert c.valence.dtype == np.float64 and c.activation.dtype == np.float64
    np.testing.assert_array_equal(c.valence, [2.5, 4, 1, 3.25, 5])
    np.testing.assert_array_equal(c.activation, [3, 1, 5, 2.75, 1.5])
    assert c.category.tolist() == ["neu", "ang", "sad", "neu", "hap"]
    assert c.params == {"kind": "table", "path": str(p),
                        "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                        "n_utterances": 5, "n_features": 3, "ignored": []}
    # sequences: one per (dialog, speaker), ordered by turn
    seqs = [c.utterance_id[s].tolist() for s in sequences(c)]
    assert seqs == [["u1", "u3"], ["u2"], ["u5"], ["u4"]]


def test_defaults_session_and_utterance_id(tmp_path):
    p = write(tmp_path, ["dialog,turn,speaker,valence,x", "dA,1,F,3,0.5", "dA,2,M,4,1.5"])
    c = load_table(p)
    assert c.session.tolist() == ["all", "all"]
    assert c.utterance_id.tolist() == ["dA_F_1", "dA_M_2"]
    assert c.activation is None and c.category is None
    assert c.feature_names == ("x",)


def test_ignore_skips_text_columns(tmp_path):
    p = write(tmp_path, ["name,dialog,turn,speaker,activation,note,f1",
                         "'a.wav',d,1,S,2,hello there,1",
                         "'b.wav',d,2,S,3,,2"])
    c = load_table(p, ignore=["name", "note"])
    assert c.feature_names == ("f1",)
    assert c.params["ignored"] == ["name", "note"]
    np.testing.assert_array_equal(c.features[:, 0], [1, 2])


def test_ignore_numeric_column_is_not_a_feature(tmp_path):
    p = write(tmp_path, ["dialog,turn,speaker,valence,frameTime,f1", "d,1,S,2,0.0,1", "d,2,S,3,0.0,2"])
    assert load_table(p, ignore=("frameTime",)).feature_names == ("f1",)
    assert load_table(p).feature_names == ("frameTime", "f1")


def test_metadata_columns_are_never_features(tmp_path):
    p = write(tmp_path, [
        "dialog,turn,speaker,gender,start,end,dominance,votes,transcript,wav,has_mocap,category,f",
        "d,1,S,F,0.0,1.2,3,2,Hello there,a/b.wav,True,neu,9",
        "d,2,S,F,1.3,2.0,,,,,False,ang,8"])
    c = load_table(p)
    assert c.feature_names == ("f",)
    assert c.valence is None and c.activation is None
    assert c.category.tolist() == ["neu", "ang"]


def test_only_category_gives_no_ratings(tmp_path):
    p = write(tmp_path, ["dialog,turn,speaker,category,f1,f2", "d,1,S,neu,1,2", "d,2,T,ang,3,4"])
    c = load_table(p)
    assert c.valence is None and c.activation is None
    assert c.category.tolist() == ["neu", "ang"]


def test_semicolon_delimiter_bom_quotes_and_blank_lines(tmp_path):
    p = tmp_path / "smile.csv"
    p.write_bytes("\ufeffdialog;turn;speaker;valence;F0 mean\n\n"
                  "\"d, one\";1;S;3;1e2\n\nd2;1;S;2;-0.5\n".encode("utf-8"))
    c = load_table(p)
    assert c.feature_names == ("F0 mean",)
    assert c.dialog.tolist() == ["d, one", "d2"]
    np.testing.assert_array_equal(c.features[:, 0], [100, -0.5])


def test_whitespace_around_cells_is_stripped(tmp_path):
    p = write(tmp_path, ["dialog, turn ,speaker,valence,f", "d, 7 ,S, 2.5 , 1.0 "])
    c = load_table(p)
    assert c.turn.tolist() == [7] and c.valence.tolist() == [2.5]


def test_accepts_str_path(tmp_path):
    p = write(tmp_path, [HEADER, *ROWS])
    assert load_table(str(p)).name == f"table:{p}"


# ------------------------------------------------------------------------------------------------
# Errors: file and header


def test_missing_file(tmp_path):
    p = tmp_path / "nope.csv"
    with pytest.raises(TableError, match=re.escape(f"{p}: no such file")):
        load_table(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(TableError, match=re.escape(f"{p}: file is empty")):
        load_table(p)
    p.write_text("\n  \n\n")
    with pytest.raises(TableError, match="file is empty"):
        load_table(p)


def test_no_header(tmp_path):
    p = write(tmp_path, ["d1,1,A,3,0.5", "d1,2,A,3,0.6"])
    msg = raises_at(p, 1)
    assert "no header" in msg


def test_header_only(tmp_path):
    p = write(tmp_path, [HEADER])
    assert "no utterances" in raises_at(p, 2)


@pytest.mark.parametrize("col", ["dialog", "turn", "speaker"])
def test_missing_required_column(tmp_path, col):
    cols = HEADER.split(",")
    keep = [j for j, c in enumerate(cols) if c != col]
    lines = [",".join(line.split(",")[j] for j in keep) for line in [HEADER, *ROWS]]
    p = write(tmp_path, lines)
    msg = raises_at(p, 1, col)
    assert "missing required column" in msg
    assert "'f1'" in msg and "'valence'" in msg  # lists what the header has


def test_missing_required_column_suggests_close_name(tmp_path):
    p = write(tmp_path, ["dialog,Turn_no,speaker,valence,f", "d,1,S,3,1"])
    assert "did you mean 'Turn_no'" in raises_at(p, 1, "turn")


def test_label_column_in_wrong_case(tmp_path):
    p = write(tmp_path, ["dialog,turn,speaker,Valence,category,f", "d,1,S,3,neu,1"])
    assert "case-sensitive" in raises_at(p, 1, "Valence")


def test_no_label_column(tmp_path):
    p = write(tmp_path, ["dialog,turn,speaker,f1", "d,1,S,1"])
    msg = raises_at(p, 1)
    assert "no label column" in msg and "valence" in msg and "category" in msg


def test_ignoring_the_only_label_leaves_no_label(tmp_path):
    p = write(tmp_path, ["dialog,turn,speaker,valence,f1", "d,1,S,3,1"])
    assert "no label column" in raises_at(p, 1, ignore=["valence"])


def test_ignore_unknown_or_required_column(tmp_path):
    p = write(tmp_path, [HEADER, *ROWS])
    assert "not in the header" in raises_at(p, 1, "nme", ignore=["nme"])
    assert "required" in raises_at(p, 1, "turn", ignore=["turn"])


def test_duplicate_and_unnamed_header_columns(tmp_path):
    p = write(tmp_path, ["dialog,turn,speaker,valence,f,f", "d,1,S,3,1,2"])
    assert "twice" in raises_at(p, 1, "f")
    p = write(tmp_path, [",dialog,turn,speaker,valence,f", "0,d,1,S,3,1"])
    assert "no name" in raises_at(p, 1)


def test_no_feature_columns(tmp_path):
    p = write(tmp_path, ["dialog,turn,speaker,valence,name", "d,1,S,3,a"])
    assert "no feature columns" in raises_at(p, 1, ignore=["name"])


def test_not_utf8(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes(b"dialog,turn,speaker,valence,f\nd\xe9,1,S,3,1\n")
    assert "UTF-8" in raises_at(p, 2)


# ------------------------------------------------------------------------------------------------
# Errors: rows and cells


def test_wrong_number_of_fields(tmp_path):
    rows = list(ROWS)
    rows[2] = rows[2] + ",99"
    p = write(tmp_path, [HEADER, *rows])
    msg = raises_at(p, 4)
    assert "13 fields" in msg and "header has 12" in msg
    rows = list(ROWS)
    rows[0] = rows[0].rsplit(",", 1)[0]
    p = write(tmp_path, [HEADER, *rows])
    assert "11 fields" in raises_at(p, 2)


def test_line_numbers_count_blank_lines_and_multiline_cells(tmp_path):
    p = write(tmp_path, ["dialog,turn,speaker,transcript,valence,f",
                         "d,1,S,\"two\nlines\",3,1", "", "d,2,S,ok,3,abc"])
    raises_at(p, 5, "f")


def test_non_numeric_feature(tmp_path):
    rows = list(ROWS)
    rows[3] = replace_cell(rows[3], "f2", "abc")
    p = write(tmp_path, [HEADER, *rows])
    msg = raises_at(p, 5, "f2")
    assert msg == f"{p}:5: column 'f2': 'abc' is not a number"  # a stray value: no ignore= hint


def test_text_column_suggests_ignore(tmp_path):
    p = write(tmp_path, ["name,dialog,turn,speaker,valence,file,f1",
                         "a,d,1,S,3,x.wav,1", "b,d,2,S,3,y.wav,2"])
    msg = raises_at(p, 2, "name")
    assert "'a' is not a number" in msg
    assert f"table:{p},ignore=name+file" in msg
    # with one column already ignored, the hint keeps it
    msg = raises_at(p, 2, "file", ignore=["name"])
    assert "ignore=name+file" in msg


@pytest.mark.parametrize("value,what", [("nan", "not a finite number"), ("inf", "not a finite number"),
                                         ("-Infinity", "not a finite number"), ("", "empty value"),
                                         ("1e39", "float32")])
def test_non_finite_or_empty_feature(tmp_path, value, what):
    rows = list(ROWS)
    rows[1] = replace_cell(rows[1], "f3", value)
    p = write(tmp_path, [HEADER, *rows])
    assert what in raises_at(p, 3, "f3")


@pytest.mark.parametrize("value", ["1.5", "x", "", "2e1"])
def test_turn_not_an_integer(tmp_path, value):
    rows = list(ROWS)
    rows[4] = replace_cell(rows[4], "turn", value)
    p = write(tmp_path, [HEADER, *rows])
    raises_at(p, 6, "turn")


def test_duplicate_utterance_names_both_lines(tmp_path):
    rows = list(ROWS)
    rows.append(ROWS[2].replace("u3", "u9"))  # same dialog, speaker, turn as line 4
    p = write(tmp_path, [HEADER, *rows])
    msg = raises_at(p, 7, "turn")
    assert "duplicate" in msg and "lines 4 and 7" in msg


def test_duplicate_utterance_id(tmp_path):
    rows = list(ROWS)
    rows[3] = rows[3].replace("u4", "u1")
    p = write(tmp_path, [HEADER, *rows])
    assert "lines 2 and 5" in raises_at(p, 5, "utterance_id")


def test_dialog_in_two_sessions(tmp_path):
    rows = list(ROWS)
    rows[2] = replace_cell(rows[2], "session", "S9")
    p = write(tmp_path, [HEADER, *rows])
    assert "line 2" in raises_at(p, 4, "session")


@pytest.mark.parametrize("col", ["valence", "activation"])
@pytest.mark.parametrize("value,what", [("0.5", "outside [1, 5]"), ("5.01", "outside [1, 5]"),
                                         ("high", "not a number"), ("", "empty value"),
                                         ("nan", "not a finite number")])
def test_bad_rating(tmp_path, col, value, what):
    rows = list(ROWS)
    rows[2] = replace_cell(rows[2], col, value)
    p = write(tmp_path, [HEADER, *rows])
    assert what in raises_at(p, 4, col)


@pytest.mark.parametrize("col", ["category", "dialog", "speaker", "session", "utterance_id"])
def test_empty_string_cell(tmp_path, col):
    rows = list(ROWS)
    rows[1] = replace_cell(rows[1], col, "")
    p = write(tmp_path, [HEADER, *rows])
    assert "empty value" in raises_at(p, 3, col)


def test_first_error_in_file_order(tmp_path):
    rows = list(ROWS)
    rows[1] = replace_cell(rows[1], "f1", "zz")     # line 3, a feature
    rows[3] = replace_cell(rows[3], "valence", "9")  # line 5, a label
    p = write(tmp_path, [HEADER, *rows])
    raises_at(p, 3, "f1")
    rows = list(ROWS)
    rows[1] = replace_cell(rows[1], "valence", "9")
    rows[3] = replace_cell(rows[3], "f1", "zz")
    p = write(tmp_path, [HEADER, *rows])
    raises_at(p, 3, "valence")


def test_table_error_is_value_error():
    assert issubclass(TableError, ValueError)


# ------------------------------------------------------------------------------------------------
# check_speakers


def test_check_speakers(tmp_path):
    c = load_table(write(tmp_path, [HEADER, *ROWS]))
    check_speakers(c)
    check_speakers(c, 2)
    with pytest.raises(TableError, match="speaker 'B' has 2 utterance"):
        check_speakers(c, 3)
    sub = c.subset(c.speaker == "A")
    check_speakers(sub)
    with pytest.raises(TableError, match=re.escape(f"table:{tmp_path / 'utts.csv'}: speaker 'B' has 0")):
        check_speakers(sub, speakers=c.speakers)


# ------------------------------------------------------------------------------------------------
# parse_table_spec


@pytest.mark.parametrize("spec,path,ignore", [
    ("my.csv", "my.csv", []),
    ("my.csv,ignore=a", "my.csv", ["a"]),
    ("my.csv,ignore=a+b", "my.csv", ["a", "b"]),
    ("dir/with,comma/my.csv,ignore=name", "dir/with,comma/my.csv", ["name"]),
    ("/abs/path.csv,ignore= a + b ", "/abs/path.csv", ["a", "b"]),
    ("odd,name.csv", "odd,name.csv", []),
])
def test_parse_table_spec(spec, path, ignore):
    assert parse_table_spec(spec) == (Path(path), ignore)


@pytest.mark.parametrize("spec,what", [("", "no path"), (",ignore=a", "no path"),
                                       ("my.csv,skip=a", "unknown option 'skip'"),
                                       ("my.csv,ignore=", "empty column name"),
                                       ("my.csv,ignore=a++b", "empty column name"),
                                       ("my.csv,ignore=a,ignore=b", "twice")])
def test_parse_table_spec_errors(spec, what):
    with pytest.raises(TableError, match=re.escape(what)):
        parse_table_spec(spec)


def test_spec_round_trip_through_load(tmp_path):
    p = write(tmp_path, ["name,dialog,turn,speaker,valence,f", "a,d,1,S,3,1"])
    path, ignore = parse_table_spec(f"{p},ignore=name")
    assert load_table(path, ignore=ignore).feature_names == ("f",)
