"""YAML loading that remembers where every key and value was, for error messages.

PyYAML's `safe_load` forgets positions. Composing the node graph and building plain data
ourselves keeps a map from a key path (('columns', 2, 'type')) to its 1-based line and
column, and lets us reject duplicate keys, which `safe_load` silently lets win.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml


@dataclass
class Positions:
    """Key path -> (line, col), 1-based. Keys point at the key, values at the value."""

    keys: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    values: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    styles: dict[tuple, str | None] = field(default_factory=dict)  # scalar quoting style

    def at(self, path, prefer_value: bool = False) -> tuple[int | None, int | None]:
        """The best known position for `path`, falling back to its nearest ancestor."""
        path = tuple(path)
        while True:
            order = (self.values, self.keys) if prefer_value else (self.keys, self.values)
            for table in order:
                if path in table:
                    return table[path]
            if not path:
                return (None, None)
            path = path[:-1]


class DuplicateKeyError(ValueError):
    def __init__(self, key: str, line: int, col: int, first_line: int):
        super().__init__(f"duplicate key {key!r} (first defined on line {first_line})")
        self.key, self.line, self.col, self.first_line = key, line, col, first_line


def load_with_positions(text: str) -> tuple[object, Positions]:
    """Parse one YAML document into plain data plus the positions of its keys and values."""
    from generator import limits

    # Composing and building recurse, and aliases would be expanded here: bound both first,
    # and report a breach as a YAML error at its place, as callers already do.
    shape = limits.yaml_shape_problem(text, "<yaml>", max_expanded=limits.MAX_DATA_NODES)
    if shape is not None:
        mark = yaml.Mark("<yaml>", 0, (shape.line or 1) - 1, (shape.col or 1) - 1, None, None)
        raise yaml.MarkedYAMLError(problem=shape.message, problem_mark=mark)
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    positions = Positions()
    if node is None:
        return None, positions
    constructor = yaml.SafeLoader("")

    def build(current: yaml.Node, path: tuple) -> object:
        mark = current.start_mark
        positions.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(current, yaml.MappingNode):
            result: dict = {}
            first_lines: dict = {}
            for key_node, value_node in current.value:
                key = constructor.construct_object(key_node, deep=True)
                if isinstance(key, (list, dict)):
                    key = str(key)
                key_mark = key_node.start_mark
                if key in result:
                    raise DuplicateKeyError(str(key), key_mark.line + 1, key_mark.column + 1, first_lines[key])
                first_lines[key] = key_mark.line + 1
                positions.keys[path + (key,)] = (key_mark.line + 1, key_mark.column + 1)
                result[key] = build(value_node, path + (key,))
            return result
        if isinstance(current, yaml.SequenceNode):
            return [build(item, path + (index,)) for index, item in enumerate(current.value)]
        positions.styles[path] = current.style
        return constructor.construct_object(current, deep=True)

    return build(node, ()), positions
