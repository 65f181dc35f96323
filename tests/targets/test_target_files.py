"""Target files as people write them: accepted when they follow the rules, rejected whole
with a line number for every problem when they do not."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st

from hectornb.targets import TargetListError, parse_target_bytes, read_target_list
from hectornb.targets.coords import format_dec, format_ra, parse_dec, parse_ra

DOCUMENTED_DECIMAL = b"""#This is a comment.
000.0-06.8,273.3251257,-32.3286112
000.1+02.6,263.8973961,-27.4009405
000.1+04.3,262.3485294,-26.4339467
000.1+17.2,250.9556354,-18.9425272
"""

DOCUMENTED_SEXAGESIMAL = b"""NGC6337,17:22:15.67,-38:29:01.73
NGC5189,13:33:32.88,-65:58:27.04
NGC6326,17 20 46.252, -51 45 15.17
"""


def test_the_documented_examples_are_accepted_with_the_right_coordinates():
    dec = parse_target_bytes(DOCUMENTED_DECIMAL, "pne.csv")
    assert dec.names == ["000.0-06.8", "000.1+02.6", "000.1+04.3", "000.1+17.2"]
    assert dec.ra[0] == pytest.approx(273.3251257, abs=1e-12)
    assert dec.dec[3] == pytest.approx(-18.9425272, abs=1e-12)
    assert list(dec.lines) == [2, 3, 4, 5]

    sexa = parse_target_bytes(DOCUMENTED_SEXAGESIMAL, "sample_list.txt")
    truth = SkyCoord(
        ["17:22:15.67 -38:29:01.73", "13:33:32.88 -65:58:27.04", "17 20 46.252 -51 45 15.17"],
        unit=(u.hourangle, u.deg),
    )
    assert np.max(np.abs(sexa.ra - truth.ra.deg)) * 3.6e6 < 1e-3  # mas
    assert np.max(np.abs(sexa.dec - truth.dec.deg)) * 3.6e6 < 1e-3


def test_files_as_people_write_them():
    text = (
        "\ufeff# list from a spreadsheet\r\n"
        "  NGC 6337 ,  17:22:15.67 , -38:29:01.73 \r\n"
        "Télescope source,+10.5,+00 30 00\r\n"
        "south-of-equator,10.5,-00 30 00\r\n"
        '"Abell 85, BCG",10.46,-9.30\r\n'
        "\r\n"
        "M 31,00 42 44.3,+41 16 09\r\n"
    ).encode("utf-8")
    tl = parse_target_bytes(text, "people.CSV")
    assert tl.names == [
        "NGC 6337",
        "Télescope source",
        "south-of-equator",
        "Abell 85, BCG",
        "M 31",
    ]
    assert tl.dec[1] == pytest.approx(0.5)
    assert tl.dec[2] == pytest.approx(-0.5)  # the sign of -00 applies to the whole value
    assert tl.ra[1] == pytest.approx(10.5)
    assert list(tl.lines) == [2, 3, 4, 5, 7]


def test_header_line_is_recognised_not_taken_for_a_target():
    tl = parse_target_bytes(b"Target,RA,DEC\nA,1,2\n", "h.csv")
    assert tl.names == ["A"] and tl.header_line == 1


def test_accented_names_compare_after_unicode_normalisation():
    composed = "Caf\u00e9"
    decomposed = "Cafe\u0301"
    with pytest.raises(TargetListError) as info:
        parse_target_bytes(f"{composed},1,2\n{decomposed},3,4\n".encode(), "u.csv")
    assert "duplicate" in info.value.errors[0].message


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"A,1\n", 1, "expected 3 columns"),
        (b"A,1,2,3\n", 1, "found 4"),
        (b",1,2\n", 1, "missing target name"),
        (b"A,1,2\nB,3,4\nA,5,6\n", 3, "duplicate target name 'A' (first on line 1)"),
        (b"A,360,0\n", 1, "below 360"),
        (b"A,-1,0\n", 1, "must not be negative"),
        (b"A,1,90.0001\n", 1, "between -90 and +90"),
        (b"A,1,-91\n", 1, "between -90 and +90"),
        (b"A,24:00:00,0\n", 1, "hours 24"),
        (b"A,12:60:00,0\n", 1, "minutes 60"),
        (b"A,12:00:60,0\n", 1, "seconds 60"),
        (b"A,1,-10:60:00\n", 1, "minutes 60"),
        (b"A,1,-10 00 60.0\n", 1, "seconds 60"),
        (b"A,17-22-15,0\n", 1, "separated by ':' or spaces"),
        (b"A,17:22 15,0\n", 1, "separated by ':' or spaces"),
        (b"A,17h22m15s,0\n", 1, "neither decimal degrees nor sexagesimal"),
        (b"A,NaN,0\n", 1, "not a number"),
        (b"A,1,inf\n", 1, "not a number"),
        (b"A,,2\n", 1, "RA is empty"),
        (b"A,17:22,2\n", 1, "neither decimal degrees nor sexagesimal"),
        (b"", 0, "empty"),
        (b"# only a comment\n\n   \n", 0, "only comments"),
        (b"A,1,2\nB\x00\x01\x02,3,4\n", 2, "binary data"),
        (b"A,1,2\nB\xe9,3,4\n", 2, "not UTF-8"),
    ],
)
def test_each_rule_rejects_with_its_line_number(content, line, words):
    with pytest.raises(TargetListError) as info:
        parse_target_bytes(content, "bad.csv")
    first = info.value.errors[0]
    assert first.line == line
    assert words in first.message
    assert info.value.lines()[0].startswith(f"bad.csv:{line}: ")


def test_every_error_is_reported_not_just_the_first():
    content = b"A,1,2\nB,400,2\nC,1\nA,3,4\nD,1,95\n"
    with pytest.raises(TargetListError) as info:
        parse_target_bytes(content, "many.csv")
    assert [e.line for e in info.value.errors] == [2, 3, 4, 5]


def test_an_error_quotes_a_huge_field_short_with_its_length():
    content = b"A,1,2\nB," + b"1" * 5_000_000 + b"x,2\n"
    with pytest.raises(TargetListError) as info:
        parse_target_bytes(content, "long.csv")
    (error,) = info.value.errors
    assert error.line == 2 and len(error.message) < 200
    assert "'" + "1" * 60 + "'… (5,000,001 characters)" in error.message


def test_a_file_of_many_bad_lines_lists_the_first_hundred_and_counts_the_rest():
    content = b"".join(f"T{i},x,x\n".encode() for i in range(300))
    with pytest.raises(TargetListError) as info:
        parse_target_bytes(content, "many.csv")
    rejected = info.value
    assert len(rejected.errors) == 100 and rejected.total == 600  # two bad fields a line
    assert [e.line for e in rejected.errors[:2]] == [1, 1]
    assert "(and 599 more)" in str(rejected)
    assert rejected.lines()[-1] == "many.csv: … and 500 more problems"


def test_wrong_extension_is_rejected(tmp_path):
    path = tmp_path / "targets.xlsx"
    path.write_text("A,1,2\n")
    with pytest.raises(TargetListError) as info:
        read_target_list(path)
    assert ".csv" in str(info.value) and info.value.errors[0].line == 0


def test_ten_megabytes_of_binary_garbage_is_rejected(tmp_path):
    rng = np.random.default_rng(42)
    path = tmp_path / "garbage.csv"
    path.write_bytes(rng.integers(0, 256, 10 * 1024 * 1024, dtype=np.uint8).tobytes())
    with pytest.raises(TargetListError) as info:
        read_target_list(path)
    assert len(info.value.errors) == 1
    assert "binary" in info.value.errors[0].message or "UTF-8" in info.value.errors[0].message


def test_size_limit_names_the_limit():
    with pytest.raises(TargetListError, match="limit is 10"):
        parse_target_bytes(b"A,1,2\n" * 10, "big.csv", max_bytes=10)


def test_sexagesimal_agrees_with_astropy_below_one_milliarcsecond():
    rng = np.random.default_rng(7)
    ra = rng.uniform(0, 360, 2000)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 2000)))
    ra_s = [format_ra(r, 4) for r in ra]
    dec_s = [format_dec(d, 3) for d in dec]
    ours_ra = np.array([parse_ra(s) for s in ra_s])
    ours_dec = np.array([parse_dec(s) for s in dec_s])
    ref = SkyCoord(ra_s, dec_s, unit=(u.hourangle, u.deg))
    assert np.max(np.abs(ours_ra - ref.ra.deg)) * 3.6e6 < 1.0
    assert np.max(np.abs(ours_dec - ref.dec.deg)) * 3.6e6 < 1.0
    # and the formatted strings round-trip to the inputs within their precision
    assert np.max(np.abs(ours_dec - dec)) * 3.6e6 < 1.0


def test_to_table_carries_units():
    tl = parse_target_bytes(DOCUMENTED_SEXAGESIMAL, "s.csv")
    table = tl.to_table()
    assert table["ra"].unit == u.deg and table["dec"].unit == u.deg
    assert list(table["name"]) == ["NGC6337", "NGC5189", "NGC6326"]


# --- the one-pass reader of plain lists gives exactly what the line-by-line reader gives ---

_PARTS = st.sampled_from(["0", "7", "12", "23", "24", "59", "60", "123", "1234"])
_SECONDS = st.sampled_from(["0", "5.", "05.25", "59.999", "60", ".5", "12.3456", "7.1.2"])
_DECIMAL = st.sampled_from(["0", "12.5", "359.9999", "360", ".25", "5.", "1e3", "90", "90.0001"])
_SEP = st.sampled_from([" ", "  ", "\t", ":", " : ", ": "])
_PAD = st.sampled_from(["", " ", "\t", "\u00a0"])


@st.composite
def _coordinate(draw, signed: bool) -> str:
    sign = (
        draw(st.sampled_from(["", "-", "+", "- "]))
        if signed
        else draw(st.sampled_from(["", "", "", "-"]))
    )
    if draw(st.booleans()):
        body = draw(_DECIMAL)
    else:
        sep1, sep2 = draw(_SEP), draw(st.one_of(st.just(None), _SEP))
        body = (
            f"{draw(_PARTS)}{sep1}{draw(_PARTS)}{sep2 if sep2 is not None else sep1}"
            f"{draw(_SECONDS)}"
        )
    return f"{draw(_PAD)}{sign}{body}{draw(_PAD)}"


@st.composite
def _target_file(draw) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["name,ra,dec", "# a comment", "", "Name, RA, Dec"])))
    for k in range(draw(st.integers(1, 12))):
        kind = draw(st.integers(0, 20))
        if kind == 0:
            lines.append(draw(st.sampled_from(["", "# note", "  ", "a,b", '"q,1",2,3'])))
            continue
        name = draw(st.sampled_from([f"T{k}", f"T{k}", " T", "T ", "Tø", "", f"N{k}\u00a0"]))
        lines.append(f"{name},{draw(_coordinate(False))},{draw(_coordinate(True))}")
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return end.join(lines) + draw(st.sampled_from(["", end]))


def _read(text: str, careful: bool) -> tuple:
    """What a list reads as: by the one-pass reader where it can, or (``careful``) line by
    line only; the targets with their lines and header, or every error."""
    import hectornb.targets.parse as parse

    original = parse._read_plain
    if careful:
        parse._read_plain = lambda _text: None
    try:
        found = parse.parse_target_text(text, "t.csv")
        return (
            "ok",
            found.names,
            found.ra.tolist(),
            found.dec.tolist(),
            found.lines.tolist(),
            found.header_line,
        )
    except TargetListError as exc:
        return ("error", [(e.line, e.message) for e in exc.errors])
    finally:
        parse._read_plain = original


@settings(max_examples=400, deadline=None)
@given(_target_file())
def test_the_one_pass_reader_agrees_with_the_line_by_line_reader(text):
    assert _read(text, careful=False) == _read(text, careful=True)


def test_a_survey_sized_list_takes_the_one_pass_reader():
    from hectornb.targets.fastparse import fast_parse

    rng = np.random.default_rng(2)
    ra, dec = rng.uniform(0, 360, 5000), rng.uniform(-90, 90, 5000)
    rows = [
        (f"G{i}", format_ra(a, 4), format_dec(d, 3))
        for i, (a, d) in enumerate(zip(ra, dec, strict=True))
    ]
    text = "# survey\nname,ra,dec\n" + "".join(f"{n},{a},{d}\n" for n, a, d in rows)
    names, ra_deg, dec_deg, lines, header = fast_parse(text, 200)
    assert header == 2 and lines[0] == 3 and names == [n for n, _, _ in rows]
    # bit for bit what the careful reader gives
    assert ra_deg.tolist() == [parse_ra(a) for _, a, _ in rows]
    assert dec_deg.tolist() == [parse_dec(d) for _, _, d in rows]


@pytest.mark.parametrize(
    "text",
    [
        "G1,12 30::40,1\n",
        "G2,:12:30 40,::10 20 30\n",
        "G3,12:30 40:,1\n",
        "G4,12 30 40::,1\n",
        "G5,-:12 30:40,1\n",
        "\rG1,1,2\nG2,3,4\n",
        "G1,1,2\nG1\r,3,4\n",
        "G\r1,1,2",
        "G\r1,1,2\nG2,3,4\n",
        "G1,1,2\rG2,3,4\r",
        "G1,12:30:40,-10:20:30\r\nG2,1,2\r\n",
    ],
)
def test_odd_colons_and_carriage_returns_read_as_the_careful_reader_reads_them(text):
    fast = _read(text, careful=False)
    assert fast == _read(text, careful=True)
    assert fast[0] == "error" or all("\r" not in n for n in fast[1])  # never a CR in a name
