"""The kserve-python init container's argument checks (the copy itself runs in the serve image,
tests/cluster/test_serving_pods.py)."""

from mlpipe.serving.fetch_model import main


def test_no_version_yet_is_one_line_saying_so(capsys):
    assert main(["s3://models/adult_income//", "/tmp/out"]) == 1
    err = capsys.readouterr().err
    assert "s3://models/adult_income//" in err and "no version is set" in err and len(err.splitlines()) == 1


def test_wrong_arguments_print_the_usage(capsys):
    assert main(["only-one"]) == 2
    assert "usage: python -m mlpipe.serving.fetch_model SOURCE_URI OUT_DIR" in capsys.readouterr().err
