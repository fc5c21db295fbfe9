"""Loading rule files: every broken file reported with its exact position, discovery, limits and apps."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proxy.errors import InvalidFileError
from proxy.ruleset import load_rule_paths, load_rules


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write files whose text is indented in the test source; the first line break is dropped."""
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path so that messages show short relative file names."""
    monkeypatch.chdir(tmp_path)


BROKEN = [
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    titel: T
                    target: '#a'
                    body: B
            """,
        },
        [
            "a.yaml:2:5: missing key 'title' in 'guides[0]'; expected the name shown in the help menu and in reports",
            "a.yaml:4:5: unknown key 'titel' in 'guides[0]'; expected one of: id, kind, title, body, target, placement, steps, items, position, audience, pages, elements, trigger, frequency, schedule, priority, on_missing, dismissible, help_menu, workflows (did you mean 'title'?)",
        ],
        id="unknown-key",
    ),
    pytest.param(
        {
            "a.yaml": """
                guide:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
            """,
        },
        [
            "a.yaml:1:1: unknown key 'guide'; expected one of: app, locale, case_sensitive, roles, guides, workflows, features (did you mean 'guides'?)",
        ],
        id="unknown-top-key",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: w
                    kind: walktrough
                    title: W
            """,
        },
        [
            "a.yaml:3:11: invalid value 'walktrough' for 'guides[0].kind'; expected one of: walkthrough, tip, hotspot, announcement, banner, checklist (did you mean 'walkthrough'?)",
        ],
        id="kind-typo",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
            """,
            "b.yaml": """
                # the same id again
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
            """,
        },
        [
            "b.yaml:3:9: duplicate guide id 't' in app 'default'; first defined at a.yaml:2; expected each guide id once per app",
        ],
        id="duplicate-id-files",
    ),
    pytest.param(
        {
            "a.yaml": """
                workflows:
                  - id: w
                    title: W
                    steps: [{name: s, path: /a}]
                  - id: w
                    title: W2
                    steps: [{name: s, path: /b}]
            """,
        },
        [
            "a.yaml:5:9: duplicate workflow id 'w' in app 'default'; first defined at a.yaml:2; expected each workflow id once per app",
        ],
        id="duplicate-workflow",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: c
                    kind: checklist
                    title: C
                    items:
                      - {title: First, workflow: raise-p}
                workflows:
                  - id: raise-po
                    title: R
                    steps: [{name: s, path: /a}]
            """,
        },
        [
            "a.yaml:6:34: unknown workflow 'raise-p'; expected the id of a workflow of this app: raise-po (did you mean 'raise-po'?)",
        ],
        id="checklist-unknown-workflow",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: c
                    kind: checklist
                    title: C
                    items:
                      - {title: First, workflow: w, guide: tour}
                workflows:
                  - id: w
                    title: W
                    steps: [{name: s, path: /a}]
            """,
        },
        [
            "a.yaml:6:44: unknown guide 'tour'; expected the id of a guide of this app: c",
        ],
        id="checklist-unknown-guide",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    workflows: [nope]
            """,
        },
        [
            "a.yaml:7:17: unknown workflow 'nope'; expected the id of a workflow of this app: none defined",
        ],
        id="guide-unknown-workflow",
    ),
    pytest.param(
        {
            "a.yaml": """
                features:
                  - id: f
                    title: F
                    requests: 're:/po/('
            """,
        },
        [
            "a.yaml:4:15: invalid value 're:/po/(' for 'features[0].requests[0].path'; invalid regular expression: missing ), unterminated subpattern at position 4; expected a Python regular expression",
        ],
        id="regex-path",
    ),
    pytest.param(
        {
            "a.yaml": """
                workflows:
                  - id: w
                    title: W
                    steps:
                      - name: s
                        path: /a
                        success: {body: {regex: '[a-'}}
            """,
        },
        [
            "a.yaml:7:33: invalid value '[a-' for 'workflows[0].steps[0].success.body.regex'; unterminated character set at position 0; expected a Python regular expression",
        ],
        id="regex-marker",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a >'
                    body: B
            """,
        },
        [
            "a.yaml:5:13: invalid value '#a >' for 'guides[0].target.selector[0]'; invalid character ' ' position 2; expected a CSS selector such as '#vendor' or 'input[name=qty]'",
        ],
        id="css-invalid",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: 'button:contains(Save)'
                    body: B
            """,
        },
        [
            "a.yaml:5:13: invalid value 'button:contains(Save)' for 'guides[0].target.selector[0]'; ':contains()' is not a CSS selector that browsers understand; expected a standard selector (match an element's text with 'text:')",
        ],
        id="css-contains",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    schedule: {from: 2026-02-30}
            """,
        },
        [
            "a.yaml:7:22: invalid date '2026-02-30' for 'guides[0].schedule.from': day is out of range for month; expected a date such as 2026-01-31 or a time such as 2026-01-31T08:00:00+01:00",
        ],
        id="date-invalid",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    schedule: {until: next week}
            """,
        },
        [
            "a.yaml:7:23: invalid date 'next week' for 'guides[0].schedule.until'; expected a date such as 2026-01-31 or a time such as 2026-01-31T08:00:00+01:00",
        ],
        id="date-text",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    schedule:
                      from: 2026-05-01
                      until: 2026-04-01
            """,
        },
        [
            "a.yaml:9:14: schedule until 2026-04-01 is before from 2026-05-01; expected 'until' on or after 'from'",
        ],
        id="from-after-until",
    ),
    pytest.param(
        {
            "roles.yaml": """
                roles:
                  declared: [clerk, manager]
            """,
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    audience: [clerk, manger]
            """,
        },
        [
            "a.yaml:7:23: unknown role 'manger'; expected a role declared for app 'default': clerk, manager (did you mean 'manager'?)",
        ],
        id="unknown-role",
    ),
    pytest.param(
        {
            "a.yaml": """
                a: &a [x, x, x, x, x, x, x, x, x, x]
                b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
                c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
                d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
                e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    audience: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
            """,
        },
        [
            "a.yaml:1:1: unknown key 'a'; expected one of: app, locale, case_sensitive, roles, guides, workflows, features",
            "a.yaml:1:26: document expands to more than 100000 values through aliases; expected a document that repeats itself less",
            "a.yaml:2:1: unknown key 'b'; expected one of: app, locale, case_sensitive, roles, guides, workflows, features",
            "a.yaml:3:1: unknown key 'c'; expected one of: app, locale, case_sensitive, roles, guides, workflows, features",
            "a.yaml:4:1: unknown key 'd'; expected one of: app, locale, case_sensitive, roles, guides, workflows, features",
            "a.yaml:5:1: unknown key 'e'; expected one of: app, locale, case_sensitive, roles, guides, workflows, features",
        ],
        id="anchor-bomb",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    steps: [{body: x}]
            """,
        },
        [
            "a.yaml:7:5: key 'steps' does not apply to a tip; a tip takes 'body', 'target' and 'placement'",
        ],
        id="foreign-key-for-kind",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: w
                    kind: walkthrough
                    title: W
            """,
        },
        [
            "a.yaml:3:11: a walkthrough needs 'steps'; expected a list of steps, each with a body and usually a target",
        ],
        id="walkthrough-no-steps",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: w
                    kind: walkthrough
                    title: W
                    steps:
                      - body: x
                        advance: click
            """,
        },
        [
            "a.yaml:7:18: advance click needs a target on this step; expected 'target:' or advance: button",
        ],
        id="advance-click-no-target",
    ),
    pytest.param(
        {
            "a.yaml": """
                locale: en
                guides:
                  - id: t
                    kind: tip
                    title: {de: T}
                    target: '#a'
                    body: {en: B, 'e n': C}
            """,
        },
        [
            "a.yaml:5:12: text has no 'en' variant (the file's locale); expected an entry for 'en', or 'locale:' at the top of the file naming a locale the text has",
            "a.yaml:7:19: invalid locale 'e n'; expected a locale tag such as 'en', 'de' or 'pt-BR'",
        ],
        id="text-no-default-locale",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: w
                    kind: walkthrough
                    title: W
                    steps:
                      - body: x
                        advance: {mode: page}
            """,
        },
        [
            "a.yaml:7:18: invalid 'guides[0].steps[0].advance': mode 'page' needs 'page:', the pattern of the page that moves the walkthrough on",
        ],
        id="advance-page-missing",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: w
                    kind: walkthrough
                    title: W
                    steps:
                      - body: x
                        advance: clik
            """,
        },
        [
            "a.yaml:7:18: invalid value 'clik' for 'guides[0].steps[0].advance.mode'; expected one of: button, click, change, page (did you mean 'click'?)",
        ],
        id="advance-typo",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    trigger: element
            """,
        },
        [
            "a.yaml:7:14: invalid 'guides[0].trigger': mode 'element' needs 'selector:', the element whose event starts the guide",
        ],
        id="trigger-element-no-selector",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    frequency: {max_times: 0}
            """,
        },
        [
            "a.yaml:7:28: invalid value 0 for 'guides[0].frequency.max_times'; expected a number of at least 1",
        ],
        id="max-times-zero",
    ),
    pytest.param(
        {
            "a.yaml": """
                workflows:
                  - id: w
                    title: W
                    steps:
                      - {name: s, path: /a}
                      - {name: s, path: /b}
                    exclusions:
                      - {name: s, path: /c}
            """,
        },
        [
            "a.yaml:6:16: duplicate step name 's' in workflow 'w'; expected each step name once",
            "a.yaml:8:16: name 's' is used twice in workflow 'w'; expected exclusion names that differ from each other and from the step names",
        ],
        id="step-names",
    ),
    pytest.param(
        {
            "a.yaml": """
                case_sensitive: false
            """,
            "b.yaml": """
                case_sensitive: true
            """,
        },
        [
            "b.yaml:1:17: case_sensitive: true conflicts with case_sensitive: false in a.yaml; expected one value for app 'default'",
        ],
        id="case-conflict",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                   kind: tip
            """,
        },
        [
            "a.yaml:3:4: invalid YAML: while parsing a block collection, expected <block end>, but found '<block mapping start>'",
        ],
        id="yaml-syntax",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    schedule: {from: 2026-01-01, timezone: Europe/Berln}
            """,
        },
        [
            "a.yaml:7:44: invalid value 'Europe/Berln' for 'guides[0].schedule.timezone'; expected an IANA time zone name such as 'UTC' or 'Europe/Berlin'",
        ],
        id="timezone",
    ),
    pytest.param(
        {
            "a.yaml": """
                workflows:
                  - id: w
                    title: W
                    steps:
                      - name: s
                        path: /a
                        success: {status: [200, 6xx]}
            """,
        },
        [
            "a.yaml:7:33: invalid value '6xx' for 'workflows[0].steps[0].success.status[1]'; expected an HTTP status from 100 to 599 or a class such as '2xx'",
        ],
        id="status",
    ),
    pytest.param(
        {
            "a.yaml": """
                workflows:
                  - id: w
                    title: W
                    steps:
                      - name: s
                        path: /a
                        failure: {body: {text: Error, selector: .error}}
            """,
        },
        [
            "a.yaml:7:25: invalid 'workflows[0].steps[0].failure.body': 2 markers given; expected exactly one of text, regex or selector",
        ],
        id="two-markers",
    ),
    pytest.param(
        {
            "a.yaml": """
                workflows:
                  - id: w
                    title: W
            """,
        },
        [
            "a.yaml:2:5: missing key 'steps' in 'workflows[0]'; expected the requests that make up the task, in order",
        ],
        id="missing-required",
    ),
    pytest.param(
        {
            "a.yaml": """
                app: ERP App
            """,
        },
        [
            "a.yaml:1:6: invalid value 'ERP App' for 'app'; expected an app name of lower-case letters, digits, '-' or '_', such as 'erp'",
        ],
        id="app-name",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: t
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
                    pages: '/po/{id:integer}'
            """,
        },
        [
            "a.yaml:7:12: invalid value '/po/{id:integer}' for 'guides[0].pages[0].path'; unknown parameter type 'integer' in '{id:integer}'; expected one of: str, int, uuid, hex, slug, date, path (did you mean 'int'?)",
        ],
        id="param-type",
    ),
    pytest.param(
        {
            "a.yaml": """
                guides:
                  - id: 'po tour'
                    kind: tip
                    title: T
                    target: '#a'
                    body: B
            """,
        },
        [
            "a.yaml:2:9: invalid value 'po tour' for 'guides[0].id'; expected an id of letters, digits, '_', '.' or '-', starting with a letter or digit, at most 64 characters, such as 'raise-po'",
        ],
        id="invalid-id",
    ),
    pytest.param(
        {
            "a.yaml": """
                workflows:
                  - id: w
                    title: W
                    steps: []
            """,
        },
        [
            "a.yaml:4:12: workflow 'w' has no steps; expected at least one step",
        ],
        id="empty-workflow-steps",
    ),
    pytest.param(
        {
            "b.yaml": """
                guides:
                  - id: x
                    kind: tipp
                    title: X
            """,
            "a.yaml": """
                features:
                  - id: f
                    titl: F
                    requests: /a
            """,
        },
        [
            "a.yaml:2:5: missing key 'title' in 'features[0]'; expected the name of the feature in reports",
            "a.yaml:3:5: unknown key 'titl' in 'features[0]'; expected one of: id, title, requests, audience (did you mean 'title'?)",
            "b.yaml:3:11: invalid value 'tipp' for 'guides[0].kind'; expected one of: walkthrough, tip, hotspot, announcement, banner, checklist (did you mean 'tip'?)",
        ],
        id="sorted-across-files",
    ),
    pytest.param(
        {
            "a.yaml": """
                - just
                - a list
            """,
        },
        [
            "a.yaml:1:1: invalid value for the document: a list; expected a mapping",
        ],
        id="not-a-mapping",
    ),
]


@pytest.mark.parametrize(("files", "expected"), BROKEN)
def test_load_broken(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    write_files(tmp_path, files)
    with pytest.raises(InvalidFileError) as raised:
        load_rule_paths(["."])
    assert [str(problem) for problem in raised.value.problems] == expected


def test_load_size_limit(tmp_path: Path) -> None:
    write_files(tmp_path, {"big.yaml": "# " + "x" * 600 + "\n"})
    with pytest.raises(InvalidFileError) as raised:
        load_rule_paths(["big.yaml"], max_bytes=512)
    assert [str(problem) for problem in raised.value.problems] == [
        "big.yaml:1:1: file is 603 bytes; expected at most 512 bytes (split it into several files)"
    ]


def test_load_missing_path() -> None:
    with pytest.raises(InvalidFileError) as raised:
        load_rule_paths(["nowhere"])
    assert [str(problem) for problem in raised.value.problems] == [
        "nowhere:1:1: rule file or folder not found; expected an existing YAML file or folder"
    ]


def test_load_discovery(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "rules/b.yml": "features: [{id: b, title: B, requests: /b}]\n",
            "rules/a/a.yaml": "features: [{id: a, title: A, requests: /a}]\n",
            "rules/.hidden.yaml": "not: valid\n",
            "rules/.git/x.yaml": "not: valid\n",
            "rules/notes.txt": "not: yaml\n",
        },
    )
    ruleset = load_rule_paths(["rules"])
    assert ruleset.files == ("rules/a/a.yaml", "rules/b.yml")
    assert [feature.id for feature in ruleset.apps["default"].features] == ["a", "b"]


def test_load_apps_by_key(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "erp.yaml": "app: erp\nfeatures: [{id: f, title: F, requests: /a}]\n",
            "crm.yaml": "app: crm\nfeatures: [{id: f, title: F, requests: /b}]\n",
            "shared.yaml": "features: [{id: g, title: G, requests: /c}]\n",
        },
    )
    ruleset = load_rule_paths(["."])
    assert sorted(ruleset.apps) == ["crm", "default", "erp"]
    assert ruleset.rule_count == 3


def test_load_config_app_mismatch(tmp_path: Path) -> None:
    write_files(tmp_path, {"crm.yaml": "app: crm\n"})
    with pytest.raises(InvalidFileError) as raised:
        load_rules({"erp": [tmp_path / "crm.yaml"]})
    assert [str(problem) for problem in raised.value.problems] == [
        "crm.yaml:1:6: file says app 'crm' but is listed in the rules of app 'erp'; expected app: erp"
    ]


def test_load_file_shared_by_apps(tmp_path: Path) -> None:
    write_files(tmp_path, {"shared.yaml": "features: [{id: f, title: F, requests: /a}]\n"})
    ruleset = load_rules({"erp": ["shared.yaml"], "crm": ["shared.yaml"], "empty": []})
    assert sorted(ruleset.apps) == ["crm", "empty", "erp"]
    assert len(ruleset.apps["erp"].features) == 1
    assert len(ruleset.apps["crm"].features) == 1
    assert ruleset.apps["empty"].features == ()


def test_load_empty_file(tmp_path: Path) -> None:
    write_files(tmp_path, {"empty.yaml": "# nothing yet\n"})
    ruleset = load_rule_paths(["empty.yaml"])
    assert ruleset.rule_count == 0


def test_load_kind_defaults(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "a.yaml": """
                guides:
                  - {id: w, kind: walkthrough, title: W, steps: [{body: x}]}
                  - {id: t, kind: tip, title: T, target: '#a', body: B}
                  - {id: h, kind: hotspot, title: H, target: '#a', body: B}
                  - {id: a, kind: announcement, title: A, body: B}
                  - {id: b, kind: banner, title: B, body: B}
                  - {id: c, kind: checklist, title: C, items: [{title: I, workflow: f}]}
                workflows:
                  - {id: f, title: F, steps: [{name: s, path: /a}]}
            """
        },
    )
    guides = {guide.id: guide for guide in load_rule_paths(["."]).apps["default"].guides}
    assert {identifier: guide.frequency.mode for identifier, guide in guides.items()} == {
        "w": "once",
        "t": "every_visit",
        "h": "until_completed",
        "a": "once",
        "b": "every_visit",
        "c": "until_completed",
    }
    assert guides["b"].position == "top"
    assert guides["w"].trigger.mode == "automatic"
    assert guides["w"].steps[0].advance.mode == "button"


def test_load_shorthands(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "a.yaml": """
                guides:
                  - id: w
                    kind: walkthrough
                    title: W
                    pages: {path: /po, methods: post}
                    trigger: {selector: '#help', event: click}
                    frequency: {max_times: 2}
                    steps:
                      - target: ['#a', '.b']
                        body: x
                        advance: {page: '/po/{id:int}'}
            """
        },
    )
    guide = load_rule_paths(["."]).apps["default"].guides[0]
    assert guide.pages[0].methods == ("POST",)
    assert guide.trigger.mode == "element"
    assert guide.frequency.mode == "max_times"
    assert guide.steps[0].target is not None
    assert guide.steps[0].target.selector == ("#a", ".b")
    assert guide.steps[0].advance.mode == "page"


def test_load_all_files_reported(tmp_path: Path) -> None:
    files = {f"f{index}.yaml": "guides: [{id: x, kind: tipp}]\n" for index in range(3)}
    write_files(tmp_path, files)
    with pytest.raises(InvalidFileError) as raised:
        load_rule_paths(["."])
    assert [problem.file for problem in raised.value.problems] == ["f0.yaml", "f0.yaml", "f1.yaml", "f1.yaml", "f2.yaml", "f2.yaml"]


def test_load_single_guide_mapping(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.yaml": "guides:\n  id: t\n  kind: tip\n  title: T\n  target: '#a'\n  body: B\n  steps: []\n"})
    with pytest.raises(InvalidFileError) as raised:
        load_rule_paths(["."])
    assert [str(problem) for problem in raised.value.problems] == [
        "a.yaml:7:3: key 'steps' does not apply to a tip; a tip takes 'body', 'target' and 'placement'"
    ]


def test_load_impossible_date_as_text(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.yaml": "features:\n  - {id: f, title: 2026-02-30, requests: /a}\n"})
    with pytest.raises(InvalidFileError) as raised:
        load_rule_paths(["."])
    assert [str(problem) for problem in raised.value.problems] == [
        "a.yaml:2:20: invalid value '2026-02-30': day is out of range for month; expected a valid date, "
        "or quotes to keep the value as text"
    ]
