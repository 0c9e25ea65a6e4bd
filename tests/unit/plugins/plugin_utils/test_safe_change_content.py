# -*- coding: utf-8 -*-
"""_safe_change_content: a change Ansible could not run is found before the checkpoint."""

from __future__ import annotations

import textwrap

import pytest
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_content import ChangeChecker


@pytest.fixture
def tree(tmp_path):
    def write(relative, text):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return str(path)
    write.root = tmp_path
    return write


def roles_in(root):
    def find_role(name, collections):
        path = root / "roles" / name
        if not path.is_dir():
            raise AnsibleError("the role '%s' was not found" % name)
        return str(path), None
    return find_role


def checker(root):
    loader = DataLoader()
    loader.set_basedir(str(root))
    return ChangeChecker(loader, ["ansible.builtin"], find_role=roles_in(root))


def test_a_good_change_has_no_problems(tree):
    path = tree("change.yml", """\
        - name: Copy
          ansible.builtin.copy: {dest: /tmp/x, content: x}
        - name: Short name
          command: "true"
        - block:
            - ansible.builtin.include_tasks: more.yml
          rescue:
            - ansible.builtin.debug: {msg: oops}
          always:
            - ansible.builtin.import_role: {name: cleanup}
        - name: Loop of a lookup
          ansible.builtin.debug: {msg: "{{ item }}"}
          with_items: [1, 2]
        """)
    tree("more.yml", "- ansible.builtin.ping:\n")
    tree("roles/cleanup/tasks/main.yml", "- ansible.builtin.file: {path: /tmp/x, state: absent}\n")
    assert checker(tree.root).check_tasks_file(path, "safe_change_tasks") == []


def test_an_unresolved_module_is_named_with_its_file_and_task(tree):
    path = tree("change.yml", "- name: Restart\n  ansible.builtin.servcie: {name: app}\n")
    [problem] = checker(tree.root).check_tasks_file(path, "safe_change_tasks")
    assert problem.startswith("%s (safe_change_tasks), task 1 ('Restart'): couldn't resolve module/action "
                              "'ansible.builtin.servcie'" % path)


def test_missing_files_and_relative_paths(tree):
    [problem] = checker(tree.root).check_tasks_file("nothere.yml", "safe_change_tasks")
    assert problem == ("the tasks file 'nothere.yml' (safe_change_tasks) does not exist; give an absolute path, e.g. "
                       "{{ playbook_dir }}/nothere.yml")
    tree("here.yml", "- ansible.builtin.ping:\n")
    assert checker(tree.root).check_tasks_file("here.yml", "safe_change_tasks") == []  # relative to the playbook
    include = tree("inc.yml", "- name: Next\n  ansible.builtin.include_tasks: gone.yml\n")
    [problem] = checker(tree.root).check_tasks_file(include, "safe_change_tasks")
    assert problem == "%s (safe_change_tasks), task 1 ('Next'): includes 'gone.yml', which does not exist" % include


def test_a_misspelled_absolute_tasks_file_suggests_the_file_beside_it(tree):
    change = tree("change.yml", "- ansible.builtin.ping:\n")
    typo = change.replace("change.yml", "chnage.yml")
    [problem] = checker(tree.root).check_tasks_file(typo, "safe_change_tasks")
    assert problem == "the tasks file '%s' (safe_change_tasks) does not exist; did you mean '%s'?" % (typo, change)
    [problem] = checker(tree.root).check_tasks_file(change.replace("change.yml", "rollback-plan.yml"), "safe_change_tasks")
    assert problem.endswith("does not exist")


def test_a_file_that_is_not_tasks(tree):
    assert "is not a list of tasks" in checker(tree.root).check_tasks_file(tree("d.yml", "a: 1\n"), "x")[0]
    assert "cannot be loaded" in checker(tree.root).check_tasks_file(tree("bad.yml", "- a: [\n"), "x")[0]
    assert checker(tree.root).check_tasks_file(tree("empty.yml", ""), "x") == []


def test_roles_their_handlers_and_dependencies(tree):
    tree("roles/app/tasks/main.yml", "- ansible.builtin.ping:\n")
    tree("roles/app/handlers/main.yml", "- name: restart\n  ansible.builtin.systemdd: {name: app}\n")
    tree("roles/app/meta/main.yml", "dependencies:\n  - role: base\n")
    tree("roles/base/tasks/main.yml", "- name: Base\n  ansible.builtin.ping:\n")
    problems = checker(tree.root).check_role("app", "safe_change_role")
    assert len(problems) == 1 and "handlers/main.yml (safe_change_role, role app), task 1 ('restart'): couldn't " \
                                  "resolve module/action 'ansible.builtin.systemdd'" in problems[0], problems
    tree("roles/app/meta/main.yml", "dependencies: [gone]\n")
    assert "the role 'gone' (safe_change_role, a dependency of the role app) cannot be found" in \
        checker(tree.root).check_role("app", "safe_change_role")[1]
    assert checker(tree.root).check_role("nope", "safe_change_role") == [
        "the role 'nope' (safe_change_role) cannot be found: the role 'nope' was not found"]


def test_names_given_through_unknown_variables_are_left_to_the_play(tree):
    path = tree("change.yml", "- ansible.builtin.include_tasks: \"{{ item }}.yml\"\n  loop: [a]\n")
    assert checker(tree.root).check_tasks_file(path, "x") == []


def test_includes_that_loop_are_stopped(tree):
    path = tree("a.yml", "- ansible.builtin.include_tasks: b.yml\n")
    tree("b.yml", "- ansible.builtin.include_tasks: a.yml\n")
    assert checker(tree.root).check_tasks_file(path, "x") == []
