"""The AWX survey specs in awx/surveys: valid survey_spec JSON, and every variable a survey sets is
one the playbook documents in its header ("# Variables (extra vars):"), or, where the header says
``safe_change_*``, a variable of the role safe_change (roles/safe_change/meta/argument_specs.yml)."""

from __future__ import annotations

import json
import pathlib
import re

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
SURVEYS = sorted((REPO / "awx" / "surveys").glob("*.json"))
ROLE_SPEC = REPO / "roles" / "safe_change" / "meta" / "argument_specs.yml"
# The job templates of docs/awx.md, each with a survey.
TEMPLATES = ("patch_window", "revert", "cleanup", "report")

QUESTION_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
QUESTION_KEYS = {"question_name", "question_description", "required", "type", "variable", "min", "max", "default",
                 "choices"}
HEADER_START = "# Variables (extra vars):"
# "#   name    description": a variable, or a prefix such as safe_change_*; deeper indents continue a description.
HEADER_ENTRY = re.compile(r"^#   ([a-z][a-z0-9_]*\*?)(?:\s|$)")


def documented_variables(playbook_text):
    """The variables (and prefixes ending in ``*``) of a playbook's header block."""
    names = []
    inside = False
    for line in playbook_text.splitlines():
        if line.strip() == HEADER_START:
            inside = True
            continue
        if inside:
            if not line.startswith("#"):
                break
            match = HEADER_ENTRY.match(line)
            if match:
                names.append(match.group(1))
    return names


def role_variables():
    return set(yaml.safe_load(ROLE_SPEC.read_text())["argument_specs"]["main"]["options"])


def is_documented(variable, documented, role):
    if variable in documented:
        return True
    # "safe_change_*  any variable of the role": only the role's real variables qualify.
    return any(name.endswith("*") and variable.startswith(name[:-1]) and variable in role for name in documented)


def survey_problems(survey, documented, role):
    """What is wrong with a survey spec, as messages naming the question."""
    problems = []
    if not isinstance(survey.get("name"), str) or not isinstance(survey.get("description"), str):
        problems.append("the survey needs a name and a description")
    questions = survey.get("spec")
    if not isinstance(questions, list) or not questions:
        return problems + ["spec must be a non-empty list of questions"]
    seen = set()
    for question in questions:
        variable = question.get("variable")
        label = "question %r" % variable
        if set(question) != QUESTION_KEYS:
            problems.append("%s: keys %s, expected %s" % (label, sorted(question), sorted(QUESTION_KEYS)))
            continue
        if variable in seen:
            problems.append("%s: asked twice" % label)
        seen.add(variable)
        if not is_documented(variable, documented, role):
            problems.append("%s: the playbook does not document this variable" % label)
        if question["type"] not in QUESTION_TYPES:
            problems.append("%s: unknown type %r" % (label, question["type"]))
        if not question["question_name"] or not question["question_description"]:
            problems.append("%s: needs a question name and a description" % label)
        if question["type"] in ("multiplechoice", "multiselect"):
            choices = question["choices"].split("\n")
            if question["default"] not in choices:
                problems.append("%s: default %r is not a choice" % (label, question["default"]))
        elif question["type"] == "integer":
            default = question["default"]
            if not isinstance(default, int) or not question["min"] <= default <= question["max"]:
                problems.append("%s: default %r is not an integer from min to max" % (label, default))
        elif question["type"] in ("text", "textarea") and question["default"]:
            if not question["min"] <= len(question["default"]) <= question["max"]:
                problems.append("%s: default %r is not within min/max length" % (label, question["default"]))
    return problems


def test_every_job_template_has_a_survey():
    assert sorted(path.stem for path in SURVEYS) == sorted(TEMPLATES)


@pytest.mark.parametrize("path", SURVEYS, ids=lambda path: path.stem)
def test_survey_is_valid_and_asks_only_for_documented_variables(path):
    playbook = REPO / "playbooks" / (path.stem + ".yml")
    documented = documented_variables(playbook.read_text())
    assert len(documented) >= 3, "no variables header found in %s" % playbook
    assert survey_problems(json.loads(path.read_text()), documented, role_variables()) == []


def test_patch_window_survey_asks_the_change_batch_failures_and_keep_hours():
    survey = json.loads((REPO / "awx" / "surveys" / "patch_window.json").read_text())
    assert {"change_id", "patch_window_serial", "patch_window_max_fail_percentage",
            "safe_change_keep_hours"} <= {question["variable"] for question in survey["spec"]}


def test_revert_power_state_choices_are_the_playbooks():
    survey = json.loads((REPO / "awx" / "surveys" / "revert.json").read_text())
    question = next(question for question in survey["spec"] if question["variable"] == "revert_power_state")
    checked = re.search(r"revert_power_state \| default\('previous'\) in (\[[^\]]*\])",
                        (REPO / "playbooks" / "revert.yml").read_text())
    assert question["choices"].split("\n") == yaml.safe_load(checked.group(1))


HEADER = """---
# A playbook.
#
# Variables (extra vars):
#   change_id          required. The change.
#   batch_size         guests per batch: a number or a percentage
#                      ("25%"). Default: 1
#   safe_change_*      any variable of the role
- name: Play
"""


def test_documented_variables_reads_the_header_block_only():
    assert documented_variables(HEADER + "# not_a_variable  comment after the header\n") == [
        "change_id", "batch_size", "safe_change_*"]


def question(variable, **changes):
    entry = {"question_name": "Q", "question_description": "D", "required": True, "type": "text",
             "variable": variable, "min": 0, "max": 10, "default": "", "choices": ""}
    entry.update(changes)
    return entry


@pytest.mark.parametrize("spec, message", [
    ([question("batch_sise")], "question 'batch_sise': the playbook does not document this variable"),
    ([question("safe_change_no_such_option")],
     "question 'safe_change_no_such_option': the playbook does not document this variable"),
    ([question("change_id"), question("change_id")], "question 'change_id': asked twice"),
    ([question("change_id", type="number")], "question 'change_id': unknown type 'number'"),
    ([question("batch_size", type="integer", default=50, min=0, max=10)],
     "question 'batch_size': default 50 is not an integer from min to max"),
    ([question("change_id", type="multiplechoice", choices="a\nb", default="c")],
     "question 'change_id': default 'c' is not a choice"),
    ([{"variable": "change_id"}], "question 'change_id': keys ['variable'], expected"),
    ([], "spec must be a non-empty list of questions"),
])
def test_survey_problems_catches_bad_surveys(spec, message):
    survey = {"name": "S", "description": "D", "spec": spec}
    problems = survey_problems(survey, documented_variables(HEADER), {"safe_change_keep_hours"})
    assert any(problem.startswith(message) for problem in problems), problems


def test_survey_problems_accepts_role_variables_behind_the_prefix():
    survey = {"name": "S", "description": "D", "spec": [question("safe_change_keep_hours", type="integer", default=0)]}
    assert survey_problems(survey, documented_variables(HEADER), {"safe_change_keep_hours"}) == []
