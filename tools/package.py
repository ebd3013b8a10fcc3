"""`make package`: the built template with its code in S3, the artifact of a plain CloudFormation deploy.

`sam package` uploads every function's code folder and the layer as objects named by the MD5 of
their files (names and contents, not times), and points CodeUri and ContentUri at them. A build
of the same commit has the same files, so it gets the same names. On top of that this tool:

- puts the content hash of the whole packaged template, bucket and prefix left out, in its
  Metadata (`TasksApiArtifact.ContentHash`), so two packages of the same commit, in any bucket,
  carry the same hash, and any other change gives another;
- uploads the packaged template itself as <prefix>/templates/<hash>.yaml (the URL StackSets and
  Service Catalog take, and templates over 51,200 bytes need), and writes it to --output.

Without a bucket, the same packaging runs against a local stand-in for S3 (moto) and prints what
would be uploaded, with the keys and hash a real run gives; nothing is uploaded or written.

    python -m tools.package --template .aws-sam/package/template.yaml --bucket B [--prefix P] [--region R]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from samcli.yamlhelper import yaml_dump, yaml_parse

from tools.params import PROJECT_ROOT, load_stage_configs
from tools.standin import aws_standin, standin_environment

ARTIFACT_METADATA = "TasksApiArtifact"
DRY_RUN_BUCKET = "dry-run"


@dataclass(frozen=True)
class Upload:
    """One object the packaged template refers to."""

    key: str
    size: int
    used_by: list[str] = field(default_factory=list)  # e.g. CreateTaskFunction.CodeUri


@dataclass(frozen=True)
class Package:
    """A packaged template, its content hash and what it refers to in the bucket."""

    bucket: str
    prefix: str
    template: dict[str, Any]
    content_hash: str
    uploads: list[Upload]

    @property
    def template_key(self) -> str:
        """Where the packaged template itself goes: named by its content hash."""
        return f"{_folder(self.prefix)}templates/{self.content_hash}.yaml"

    def text(self) -> str:
        """The packaged template as YAML, written as `sam package` writes it."""
        return str(yaml_dump(self.template))


def _folder(prefix: str) -> str:
    return f"{prefix.strip('/')}/" if prefix.strip("/") else ""


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def artifact_uris(template: Mapping[str, Any], bucket: str) -> dict[str, list[str]]:
    """Each s3://bucket/... URI of the template's resources, with the properties that hold it."""
    uris: dict[str, list[str]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        for path, value in _strings(resource.get("Properties", {}), logical_id):
            if value.startswith(f"s3://{bucket}/"):
                uris.setdefault(value, []).append(path)
    return uris


def content_hash(template: Mapping[str, Any], bucket: str, prefix: str) -> str:
    """SHA-256 of the packaged template with its bucket and prefix left out, and without the hash itself."""
    document = dict(template)
    metadata = {key: value for key, value in document.get("Metadata", {}).items() if key != ARTIFACT_METADATA}
    if metadata:
        document["Metadata"] = metadata
    else:
        document.pop("Metadata", None)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.replace(f"s3://{bucket}/{_folder(prefix)}", "").encode()).hexdigest()


def sam_package(
    template: Path, bucket: str, prefix: str, region: str, environment: Mapping[str, str]
) -> dict[str, Any]:
    """`sam package` of the template into the bucket; the packaged template."""
    sam = Path(sys.executable).parent / "sam"
    with tempfile.TemporaryDirectory(prefix="package-") as folder:
        output = Path(folder) / "packaged.yaml"
        command = [str(sam), "package", "--template-file", str(template), "--s3-bucket", bucket]
        command += ["--region", region, "--output-template-file", str(output), "--no-progressbar"]
        if prefix.strip("/"):
            command += ["--s3-prefix", prefix.strip("/")]
        result = subprocess.run(  # noqa: S603 - the venv's sam, arguments built here
            command,
            capture_output=True,
            text=True,
            check=False,
            env={**environment, "SAM_CLI_TELEMETRY": "0"},
            cwd=PROJECT_ROOT,
        )
        if result.returncode != 0:
            raise RuntimeError(f"sam package failed:\n{result.stdout}{result.stderr}")
        packaged: dict[str, Any] = yaml_parse(output.read_text(encoding="utf-8"))
        return packaged


def package(
    template: Path, *, bucket: str, prefix: str, region: str, environment: Mapping[str, str], s3: Any
) -> Package:
    """Package the template into the bucket and hash it; the template itself is not uploaded yet."""
    packaged = sam_package(template, bucket, prefix, region, environment)
    digest = content_hash(packaged, bucket, prefix)
    packaged.setdefault("Metadata", {})[ARTIFACT_METADATA] = {"ContentHash": f"sha256:{digest}"}
    uploads = []
    for uri, used_by in artifact_uris(packaged, bucket).items():
        key = uri.removeprefix(f"s3://{bucket}/")
        uploads.append(Upload(key, s3.head_object(Bucket=bucket, Key=key)["ContentLength"], used_by))
    return Package(bucket, prefix, packaged, digest, uploads)


def default_region() -> str:
    """AWS_REGION, AWS_DEFAULT_REGION, else the region of samconfig.toml's default environment."""
    configs = {config.environment: config for config in load_stage_configs()}
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or configs["default"].region


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def _report(result: Package, bucket: str) -> str:
    lines = [f"content hash sha256:{result.content_hash}"]
    for upload in result.uploads:
        lines.append(f"  s3://{bucket}/{upload.key}  {_size(upload.size):>9}  {', '.join(upload.used_by)}")
    lines.append(f"  s3://{bucket}/{result.template_key}  {_size(len(result.text())):>9}  the packaged template")
    return "\n".join(lines)


def _s3_client(region: str, endpoint_url: str | None, environment: Mapping[str, str]) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=environment.get("AWS_ACCESS_KEY_ID") if endpoint_url else None,
        aws_secret_access_key=environment.get("AWS_SECRET_ACCESS_KEY") if endpoint_url else None,
        region_name=region,
    )
    return session.client("s3", endpoint_url=endpoint_url)


def dry_run(template: Path, prefix: str, region: str) -> Package:
    """Package against a local stand-in for S3: what a real run would upload, and its hash."""
    with aws_standin() as url:
        environment = standin_environment(url)
        s3 = _s3_client(region, url, environment)
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=DRY_RUN_BUCKET, **location)
        return package(template, bucket=DRY_RUN_BUCKET, prefix=prefix, region=region, environment=environment, s3=s3)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of `make package`."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.package", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--template", type=Path, required=True, help="the template to package (sam build's)")
    parser.add_argument("--bucket", default="", help="S3 bucket, in the region of the stacks; none: a dry run")
    parser.add_argument("--prefix", default="", help="key prefix in the bucket")
    parser.add_argument("--region", default="", help="the bucket's region (default: AWS_REGION, samconfig.toml)")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "packaged.yaml", help="packaged template")
    parser.add_argument("--endpoint-url", default=None, help="an S3 stand-in's URL instead of AWS (tests)")
    args = parser.parse_args(argv)
    region = args.region or default_region()

    try:
        if not args.bucket:
            result = dry_run(args.template, args.prefix, region)
            print("S3_BUCKET is not set: nothing was uploaded and no template was written.")
            print(f"`make package S3_BUCKET=<bucket>` would upload, in {region}:")
            print(_report(result, "<bucket>"))
            return 0

        environment = standin_environment(args.endpoint_url) if args.endpoint_url else dict(os.environ)
        s3 = _s3_client(region, args.endpoint_url, environment)
        result = package(
            args.template, bucket=args.bucket, prefix=args.prefix, region=region, environment=environment, s3=s3
        )
        text = result.text()
        s3.put_object(Bucket=args.bucket, Key=result.template_key, Body=text.encode(), ContentType="text/yaml")
    except RuntimeError as error:  # sam package's own message says what went wrong
        parser.exit(1, f"python -m tools.package: {error}\n")
    args.output.write_text(text, encoding="utf-8")
    print(f"Packaged {args.template} into s3://{args.bucket}/{_folder(args.prefix)} and wrote {args.output}")
    print(_report(result, args.bucket))
    print(f"TemplateURL https://{args.bucket}.s3.{region}.amazonaws.com/{result.template_key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
