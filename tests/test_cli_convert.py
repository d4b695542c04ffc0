"""`slo-exporter convert`: any supported file in, native YAML out that `check` accepts.

In-process through ``cli.main``: output to stdout or ``-o FILE``, exit codes
(0 written, 1 invalid, not convertible or not writable), problems as
``check`` prints them (file, field, reason) and never a traceback.
"""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

import pytest

from slo_exporter import cli
from tests.config.openslo_docs import FAST_30M

SLOTH = """\
version: prometheus/v1
service: myservice
labels: {owner: myteam}
slos:
  - name: requests-availability
    objective: 99.9
    description: Common SLO based on availability for HTTP request responses.
    labels: {category: availability}
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="myservice",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="myservice"}[{{.window}}]))
---
version: prometheus/v1
service: other
slos:
  - name: ratio
    objective: 95
    sli:
      events:
        error_query: sum(rate(errors_total[{{.window}}])) by (x)
        total_query: sum(rate(requests_total[{{.window}}])) by (x)
"""


@pytest.fixture
def sloth_file(tmp_path: Path) -> Path:
    path = tmp_path / "sloth.yml"
    path.write_text(SLOTH)
    return path


def test_convert_prints_native_yaml_that_check_accepts(
    sloth_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Sloth file converts to stdout (exit 0); `check` accepts the text as is."""
    assert cli.main(["convert", f"--config.file={sloth_file}"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert f"      # from {sloth_file} (documents[1])\n      - name: ratio\n" in out
    native = tmp_path / "native.yaml"
    native.write_text(out)
    assert cli.main(["check", f"--config.file={native}"]) == 0
    assert capsys.readouterr().out == f"{native}: OK, 2 service(s), 2 SLO(s)\n"


def test_output_file_is_written_private_and_nothing_printed(
    sloth_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o FILE writes the whole text there, readable by its owner only (it may hold
    header values or passwords the input held), and prints nothing."""
    target = tmp_path / "out.yaml"
    assert cli.main(["convert", f"--config.file={sloth_file}", "-o", str(target)]) == 0
    assert capsys.readouterr() == ("", "")
    assert target.read_text().startswith("# slo-exporter native configuration")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_converting_the_output_again_gives_the_same_bytes(
    sloth_file: Path, tmp_path: Path
) -> None:
    """The output converted again is byte-identical, origin comments included."""
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    assert cli.main(["convert", f"--config.file={sloth_file}", f"--output={first}"]) == 0
    assert cli.main(["convert", f"--config.file={first}", f"--output={second}"]) == 0
    assert second.read_bytes() == first.read_bytes()
    assert f"# from {sloth_file} (documents[0])" in second.read_text()


def test_invalid_input_is_reported_as_check_reports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file `check` rejects: exit 1, located problems, no output, no traceback."""
    path = tmp_path / "sloth.yml"
    path.write_text(SLOTH.replace("objective: 95", "objective: 100"))
    target = tmp_path / "out.yaml"
    assert cli.main(["convert", f"--config.file={path}", "-o", str(target)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{path}:18: documents[1].slos[0].objective: must be a percentage" in err
    assert err.endswith("1 problem(s) found; the configuration is invalid.\n")
    assert "Traceback" not in err
    assert not target.exists()


def test_a_value_without_native_form_fails_at_its_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OpenSLO 30m rolling window loads but cannot be native: exit 1, the OpenSLO file,
    document, SLO and field with the reason; never the generated text."""
    path = tmp_path / "openslo.yaml"
    path.write_text(FAST_30M)
    assert cli.main(["convert", f"--config.file={path}"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{path}: documents[0] web/fast.window: the native format cannot "
                          "hold this value: must be at least 1h, got '30m'\n")
    assert err.endswith("1 problem(s) found; the configuration cannot be converted.\n")
    assert "converted.yaml" not in err


def test_an_unwritable_output_is_an_error_without_traceback(
    sloth_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output in a missing directory: exit 1 with the path and reason."""
    target = tmp_path / "missing" / "out.yaml"
    assert cli.main(["convert", f"--config.file={sloth_file}", "-o", str(target)]) == 1
    err = capsys.readouterr().err
    assert err == f"slo-exporter convert: cannot write {target}: No such file or directory\n"


def test_convert_needs_a_config_file(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --config.file, convert is a usage error (exit 2), as check is."""
    with pytest.raises(SystemExit) as info:
        cli.main(["convert"])
    assert info.value.code == 2
    assert "--config.file" in capsys.readouterr().err


def test_settings_secrets_stay_as_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config with an included Sloth file: its Prometheus settings are written as given,
    the password file stays a reference, and the included SLOs are inlined."""
    (tmp_path / "pw").write_text("file-held-s3cret")
    (tmp_path / "sloth.yml").write_text(SLOTH)
    config = tmp_path / "slo.yaml"
    config.write_text(textwrap.dedent("""\
        prometheus:
          url: http://127.0.0.1:9090
          timeout: 5s
          basic_auth: {username: slo, password_file: pw}
        evaluation_interval: 10s
        include: [sloth.yml]
        """))
    assert cli.main(["convert", f"--config.file={config}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(textwrap.dedent(f"""\
        # slo-exporter native configuration, written by `slo-exporter convert`.
        prometheus:
          url: http://127.0.0.1:9090
          timeout: 5s
          basic_auth:
            username: slo
            password_file: {tmp_path / 'pw'}
        evaluation_interval: 10s
        services:
        """))
    assert "file-held-s3cret" not in out
    assert f"# from {tmp_path / 'sloth.yml'} (documents[0])" in out


def test_warnings_are_printed_as_check_prints_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid but probably unmeant value (objective 0.5 %) is said on stderr, plainly,
    and the file still converts."""
    path = tmp_path / "sloth.yml"
    path.write_text(SLOTH.replace("objective: 95", "objective: 0.5"))
    assert cli.main(["convert", f"--config.file={path}"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"{path}:18: warning: documents[1].slos[0].objective: 0.5 means")
    assert "objective: 0.5\n" in out


def test_data_source_credentials_are_not_carried_into_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OpenSLO DataSource's URL password and access token are the data source's, not
    an SLO's: the native output holds neither (nor its own Prometheus URL with them)."""
    path = tmp_path / "openslo.yaml"
    path.write_text(textwrap.dedent("""\
        apiVersion: openslo/v1
        kind: DataSource
        metadata: {name: prom}
        spec:
          type: Prometheus
          connectionDetails: [{url: "https://admin:url-s3cret@prom.example.com"},
                              {accessToken: token-s3cret}]
        ---
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: availability}
        spec:
          service: web
          indicator:
            metadata: {name: sli}
            spec:
              ratioMetric:
                good: {metricSource: {metricSourceRef: prom, spec: {query: ok_total}}}
                total: {metricSource: {metricSourceRef: prom, spec: {query: all_total}}}
          timeWindow: [{duration: 28d, isRolling: true}]
          budgetingMethod: Occurrences
          objectives: [{target: 0.99}]
        """))
    assert cli.main(["convert", f"--config.file={path}"]) == 0
    out, err = capsys.readouterr()
    assert "s3cret" not in out + err
    assert "admin" not in out
    assert f"# from {path} (documents[1])" in out
