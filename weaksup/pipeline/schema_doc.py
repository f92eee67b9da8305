"""The pipeline file's schema (:data:`~weaksup.pipeline.schema.SCHEMA`) as text, for
``weaksup schema`` and for messages naming a key's type."""

from __future__ import annotations

from weaksup.pipeline.schema import SCHEMA, Section


def type_names(types: type | tuple[type, ...]) -> str:
    return types.__name__ if isinstance(types, type) else "/".join(t.__name__ for t in types)


def schema_doc(section: Section = SCHEMA, prefix: str = "") -> str:
    """The schema as text: one line per key with its type, default and meaning."""
    lines = []
    for key, spec in section.keys.items():
        name = f"{prefix}{key}"
        if isinstance(spec, Section):
            lines.append(f"[{name}]{' (optional)' if spec.optional else ''}  {spec.doc}")
            lines.append(schema_doc(spec, f"{name}."))
        else:
            req = "required" if spec.required else f"default {spec.default!r}"
            choices = f", one of {list(spec.choices)}" if spec.choices else ""
            lines.append(f"  {name} ({type_names(spec.types)}, {req}{choices}): {spec.doc}")
    return "\n".join(lines)
