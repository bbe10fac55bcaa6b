"""The documentation's commands and links must keep working.

README.md, ARCHITECTURE.md and docs/*.md tell users which `make` targets and `mlpipe`
commands to type and link to each other. Targets get renamed, CLI options change and pages
move; nothing else notices when a doc goes stale. So these tests read every shell code block
of those files and check that each `make` target exists in the Makefile (or make/*.mk), that
each `mlpipe ...` command parses with the real CLI parser, and that every relative link
points at a file that exists.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from mlpipe.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
SHELL_TAGS = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^```(\S*).*?\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
RULE = re.compile(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", re.MULTILINE)
OPERATORS = {"|", "||", "&", "&&", ";", ";;", "(", ")"}


def doc_files() -> list[Path]:
    """README.md and docs/*.md (a missing README fails), and ARCHITECTURE.md when it exists."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    if (ROOT / "ARCHITECTURE.md").exists():
        files.append(ROOT / "ARCHITECTURE.md")
    return files


def command_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, command) for each command of the file's shell blocks: blocks tagged
    bash/sh/shell/console, or untagged blocks with a line starting `make `, `mlpipe ` or `$ `.
    In a block with `$ ` prompts only the prompted lines are commands (the rest is output).
    Continuation lines (ending in a backslash) are joined to their first line."""
    text = path.read_text()
    found = []
    for block in FENCE.finditer(text):
        tag, body = block.group(1).lower(), block.group(2)
        lines = body.splitlines()
        starts = ("make ", "mlpipe ", "$ ")
        if tag not in SHELL_TAGS and not (tag == "" and any(ln.startswith(starts) for ln in lines)):
            continue
        first = text.count("\n", 0, block.start(2)) + 1
        prompted = any(ln.startswith("$ ") for ln in lines)
        pending, pending_no = "", 0
        for number, line in enumerate(lines, start=first):
            if prompted and not pending:
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            if not pending:
                pending_no = number
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            found.append((pending_no, pending + line))
            pending = ""
    return found


def simple_commands(line: str) -> list[list[str]]:
    """The line's words, comments dropped, split into simple commands at |, &&, ; and
    parentheses; leading VAR=value assignments removed. `$VAR` and `<placeholder>` stay words."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;()")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for word in lexer:
        if word in OPERATORS:
            commands.append([])
        elif commands[-1] or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word):
            commands[-1].append(word)
    return [words for words in commands if words]


def make_targets() -> set[str]:
    targets: set[str] = set()
    for path in [ROOT / "Makefile", *sorted((ROOT / "make").glob("*.mk"))]:
        text = path.read_text()
        targets |= set(RULE.findall(text))
        for phony in re.findall(r"^\.PHONY\s*:(.*)$", text, re.MULTILINE):
            targets |= set(phony.split())
    return targets


def invocations(program: str) -> list[tuple[str, list[str]]]:
    """("file:line: command", arguments) for every invocation of `make` or `mlpipe` in the docs
    (also as a path, such as `.venv/bin/mlpipe`)."""
    found = []
    for path in doc_files():
        for number, line in command_lines(path):
            try:
                commands = simple_commands(line)
            except ValueError:  # unbalanced quotes: check the plain words
                commands = [line.split()]
            for words in commands:
                if Path(words[0]).name == program:
                    found.append((f"{path.relative_to(ROOT)}:{number}: {line.strip()}", words[1:]))
    return found


def test_doc_files_exist() -> None:
    missing = [str(p.relative_to(ROOT)) for p in doc_files() if not p.is_file()]
    assert not missing, f"missing documentation: {missing}"


def test_make_targets_in_docs_exist() -> None:
    targets = make_targets()
    failures = []
    for where, args in invocations("make"):
        wanted = [a for a in args if not a.startswith("-") and "=" not in a]
        failures += [f"{where}\n    no make target {t!r}" for t in wanted if t not in targets]
    assert not failures, "doc commands name unknown make targets:\n" + "\n".join(failures)


def parse_error(args: list[str]) -> int | str | None:
    """None when the CLI parses `args` (or prints --help), else SystemExit's code. A placeholder
    word such as `<version>` stands for any value: when the words fail, it is tried as a number."""
    for argv in (args, [re.sub(r"^<[^<>]+>$", "1", a) for a in args]):
        try:
            build_parser().parse_args(argv)
            return None
        except SystemExit as exit_:
            if exit_.code == 0:  # --help
                return None
            code = exit_.code
    return code


def test_mlpipe_commands_in_docs_parse() -> None:
    failures = []
    for where, args in invocations("mlpipe"):
        code = parse_error(args)
        if code is not None:
            failures.append(f"{where}\n    argv {args} -> SystemExit({code})")
    assert not failures, "doc commands the CLI refuses:\n" + "\n".join(failures)


def test_relative_links_resolve() -> None:
    failures = []
    for path in doc_files():
        # code blocks hold no links; blank them line for line, so line numbers stay right
        text = FENCE.sub(lambda block: "\n" * block.group(0).count("\n"), path.read_text())
        for link in LINK.finditer(text):
            target = link.group(1)
            if re.match(r"^(https?:|mailto:|#)", target):
                continue
            if not (path.parent / target.split("#", 1)[0]).exists():
                line = text.count("\n", 0, link.start()) + 1
                failures.append(f"{path.relative_to(ROOT)}:{line}: {link.group(0)}")
    assert not failures, "links to missing files:\n" + "\n".join(failures)


def test_every_subcommand_takes_verbose_after_its_name() -> None:
    """`mlpipe <command> -v` as the docs write it, for every command."""
    import argparse

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        flags = {flag for action in sub._actions for flag in action.option_strings}
        assert "-v" in flags, f"mlpipe {name} does not take -v"
