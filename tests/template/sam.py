"""A SAM template as CloudFormation receives it after its transforms, and its intrinsics resolved.

CloudFormation runs AWS::LanguageExtensions and then the SAM transform; here SAM CLI's local
LanguageExtensions and the SAM translator do the same (`transformed`), for every template test.
`translated` is template.yaml's, its code folders S3 URIs that are never read: the translator
only needs their form.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

import boto3
from samcli.lib.cfn_language_extensions.models import PseudoParameterValues
from samcli.lib.cfn_language_extensions.sam_integration import process_template_for_sam_cli
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from local.template import Resolver, load_template

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def parameter_values(parameters: Mapping[str, str], template: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Every parameter's value: the template's (template.yaml's) defaults under the given ones."""
    template = load_template() if template is None else template
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    values.update(parameters)
    return values


def transformed(
    template: Mapping[str, Any], parameters: Mapping[str, str], stack_name: str | None = None
) -> dict[str, Any]:
    """LanguageExtensions, then the SAM transform, with the parameters and their defaults.

    SAM CLI's local LanguageExtensions turns an Fn::Sub that names a resource into a plain string
    (`https://${TasksApi}...`); the outputs use no language extension, so they go to the SAM
    transform as written, as CloudFormation's own LanguageExtensions leaves them.
    """
    template = copy.deepcopy(dict(template))
    outputs = copy.deepcopy(template.get("Outputs"))
    values = parameter_values(parameters, template)
    pseudo = PseudoParameterValues(region=REGION, account_id=ACCOUNT, stack_name=stack_name)
    expanded = process_template_for_sam_cli(template, values, pseudo)
    expanded["Transform"] = "AWS::Serverless-2016-10-31"
    if outputs is not None:
        expanded["Outputs"] = outputs
    # The region comes from a session, as the SAM transform takes it from its caller's; no AWS call.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    result: dict[str, Any] = translator.translate(expanded, parameter_values=values, get_managed_policy_map=dict)
    return result


def translated(parameters: Mapping[str, str]) -> dict[str, Any]:
    """template.yaml after LanguageExtensions and the SAM transform, for these parameter values."""
    return copy.deepcopy(_translated(tuple(sorted(parameters.items()))))


@functools.cache
def _translated(parameters: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    template = load_template()
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{logical_id}"
    return transformed(template, dict(parameters))


def resolver(template: Mapping[str, Any], parameters: Mapping[str, str]) -> Resolver:
    """Resolves the template's intrinsics: a Ref is the logical id, ${X.Arn} is "arn:X"."""
    resolving = Resolver(template, parameter_values(parameters))
    for name in template["Resources"]:
        resolving.values[f"{name}.Arn"] = f"arn:{name}"
    return resolving
