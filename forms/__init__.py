"""Server-side validation of bpmn.io form-js forms (`*.form.json`), built on marshmallow.

`load_form` parses a form file, `compile_form` checks it and returns a `CompiledForm`, whose
`validate` cleans a submission (raising `SubmissionInvalid` with every `FieldError`) and whose
`prefill` picks the instance variables the form shows. This package depends on nothing of the
engine, the API or the web layer: they depend on it.
"""

from forms.compiled import CompiledForm
from forms.compiler import compile_form
from forms.errors import FieldError, FormDefinitionInvalid, SubmissionInvalid
from forms.loading import load_form
from forms.model import FormField, Option

__all__ = [
    "CompiledForm",
    "FieldError",
    "FormDefinitionInvalid",
    "FormField",
    "Option",
    "SubmissionInvalid",
    "compile_form",
    "load_form",
]
