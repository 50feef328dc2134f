"""The files of an open-data release of a signed-off quarter, built from the database, byte for byte the same each time.

- ``commitments.csv``: the published commitments counted on the quarter's last day (``dashboards.counted_commitments``),
  with the fields partners see in the API (``programmes.api.representation``);
- ``delivery.csv``: each one's delivery state on that day (``rules.with_state_on``, and ``rules.governing_updates``
  for the governing approved update's UUID), and whether it was overdue then (``rules.is_overdue``);
- ``funding.csv``: the money partners see (``programmes.api.views.visible_funding``) of programmes and of those
  commitments;
- ``csv-metadata.json``: CSV on the Web metadata describing the three tables;
- ``funding-360giving.json``: the amounts that are government grants with one named recipient, as a 360Giving
  package (``grants``); nothing is invented to fill the standard's required fields (docs/open_data.md).

CSV files follow RFC 4180: UTF-8 without a byte-order mark, comma-separated, CRLF line ends, quoted where needed,
a header row. ``data_digest`` covers what the tables and grants hold, not the version's stamp (its number and
date), so the same data is never published twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import OuterRef, Subquery

from commitments import hooks
from commitments.models import (
    Commitment,
    CommitmentOrganisation,
    Document,
    OrganisationKind,
    OrganisationRole,
)
from lsis.spreadsheets import safe_cell
from metrics import rules
from metrics.dashboards import counted_commitments
from metrics.models import ReportingQuarter
from metrics.rules import Population
from programmes.api import representation
from programmes.api.views import visible_funding
from programmes.models import AmountNature, FundingAmount
from programmes.money import AmountQualifier

CSV_MEDIA_TYPE = "text/csv; charset=utf-8; header=present"
CSVW_MEDIA_TYPE = "application/csvm+json"
JSON_MEDIA_TYPE = "application/json"

PUBLISHER = "Office for Life Sciences"
LICENCE = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
LICENCE_NAME = "Open Government Licence v3.0"
GIVING_VERSION = "1.4"
GIVING_ATTRIBUTION = (
    "Grants are published to the 360Giving Data Standard (https://www.threesixtygiving.org/), "
    "© 360Giving, licensed under Creative Commons Attribution 4.0 International "
    "(https://creativecommons.org/licenses/by/4.0/)."
)
# The 360Giving identifiers of the tracker's own records: no registered prefix is held, so the standard's
# form for an unregistered publisher's own identifiers, "360G-" and a name of the publisher's choosing.
ID_PREFIX = "360G-ols-lsis"
# The bodies of government: money they give is a government grant only to a body that is not one of them.
GOVERNMENT_KINDS = (OrganisationKind.GOVERNMENT_DEPARTMENT, OrganisationKind.AGENCY_REGULATOR)
SEPARATOR = "; "


@dataclass(frozen=True)
class Column:
    """One column of a table: its name in the header, its title, its CSVW datatype, whether always filled."""

    name: str
    title: str
    datatype: str = "string"
    required: bool = False


@dataclass(frozen=True)
class Table:
    """One CSV file of a release and its schema."""

    url: str
    title: str
    description: str
    columns: tuple[Column, ...]
    primary_key: str


COMMITMENTS = Table(
    url="commitments.csv",
    title="Commitments",
    description="The published commitments counted at the quarter's end, with the fields partners see in the API.",
    primary_key="reference",
    columns=(
        Column("reference", "Reference", required=True),
        Column("uuid", "UUID", required=True),
        Column("deal", "Deal code", required=True),
        Column("deal_title", "Deal", required=True),
        Column("foundation", "Foundation code", required=True),
        Column("foundation_name", "Foundation", required=True),
        Column("area", "Area code"),
        Column("area_name", "Area"),
        Column("themes", "Themes (codes, separated by '; ')"),
        Column("actor", "Actor", required=True),
        Column("section", "Section", required=True),
        Column("parent", "Sub-item of (reference)"),
        Column("lead_in", "Lead-in as printed"),
        Column("text", "Text as printed", required=True),
        Column("source_document", "Source document code", required=True),
        Column("target_date_text", "Target date as printed"),
        Column("timing_kind", "Kind of timing", required=True),
        Column("starts_on", "Starts on", "date"),
        Column("target_date", "Target date (baseline)", "date"),
        Column("forecast_date", "Forecast date (re-baselined)", "date"),
        Column("jobs", "Jobs", "integer"),
        Column("jobs_text", "Jobs as printed"),
        Column("lead_organisations", "Lead organisations (names, separated by '; ')"),
        Column("partner_organisations", "Partner organisations (names, separated by '; ')"),
        Column("funder_organisations", "Funding organisations (names, separated by '; ')"),
        Column("programmes", "Programmes (names, separated by '; ')"),
        Column("owning_team", "Owning team"),
    ),
)

DELIVERY = Table(
    url="delivery.csv",
    title="Delivery state at the quarter's end",
    description="Each commitment's delivery state on the quarter's last day.",
    primary_key="reference",
    columns=(
        Column("reference", "Commitment reference", required=True),
        Column("status", "Delivery status", required=True),
        Column("confidence", "Confidence rating"),
        Column("progress", "Progress (per cent)", "integer"),
        Column("as_of", "As of (the governing update's date)", "date"),
        Column("overdue", "Overdue at the quarter's end", "boolean", required=True),
        Column("governing_update", "Governing approved update (UUID)"),
    ),
)

FUNDING = Table(
    url="funding.csv",
    title="Funding",
    description="Amounts of money as the documents state them, of programmes and of the commitments listed.",
    primary_key="key",
    columns=(
        Column("key", "Key", required=True),
        Column("amount_text", "Amount as printed", required=True),
        Column("qualifier", "Qualifier", required=True),
        Column("low", "Low (pounds)", "decimal"),
        Column("high", "High (pounds)", "decimal"),
        Column("currency", "Currency", required=True),
        Column("nature", "Nature of the money", required=True),
        Column("funder", "Funder"),
        Column("joint_funders", "Joint funders (names, separated by '; ')"),
        Column("commitment", "Commitment reference"),
        Column("programme", "Programme"),
        Column("part_of", "Part of (key)"),
        Column("period_text", "Period as printed"),
    ),
)

TABLES = (COMMITMENTS, DELIVERY, FUNDING)
METADATA_NAME = "csv-metadata.json"
GIVING_NAME = "funding-360giving.json"
# Every file of a release, in the order listed.
FILE_NAMES = (COMMITMENTS.url, DELIVERY.url, FUNDING.url, METADATA_NAME, GIVING_NAME)


@dataclass(frozen=True)
class BuiltFile:
    """A file's name, media type and bytes."""

    name: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        """Hex digest of the bytes."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class ReleaseData:
    """What a release of a quarter holds, before its version's stamp is put on it."""

    tables: dict[str, list[dict[str, Any]]]
    grants: list[dict[str, Any]]
    left_out: dict[str, int]

    @property
    def data_digest(self) -> str:
        """Digest of the tables' bytes and the grants: equal for equal data, whatever the version."""
        digest = hashlib.sha256()
        for table in TABLES:
            digest.update(table.url.encode() + b"\0" + csv_bytes(table, self.tables[table.url]) + b"\0")
        digest.update(_json_bytes(self.grants))
        return digest.hexdigest()


# --- reading the data ---------------------------------------------------------------------------------------


def release_data(reporting: ReportingQuarter) -> ReleaseData:
    """Read everything a release of the signed-off ``reporting`` quarter holds (a fixed number of queries)."""
    day = reporting.quarter.end
    # The quarter as the data stands now: the first version is published as the board signs the quarter off, so
    # it is what the board signed off; a later version (a restatement) carries the corrections made since.
    counted = counted_commitments(Commitment.objects.published(), day, Population.ALL).order_by("reference")
    records = representation.records(
        representation.rows(hooks.pipe(hooks.ANNOTATE_OVERDUE, counted, on=day), published_only=True),
        published_only=True,
    )
    commitments = [_commitment_row(record) for record in records]
    references = {row["reference"] for row in commitments}
    delivery = _delivery_rows(counted, day=day)
    funding, amounts = _funding_rows(references)
    grants, left_out = _grants(amounts, references)
    return ReleaseData(
        tables={COMMITMENTS.url: commitments, DELIVERY.url: delivery, FUNDING.url: funding},
        grants=grants,
        left_out=left_out,
    )


def _names(items: Iterable[dict[str, Any]], key: str = "name") -> str:
    return SEPARATOR.join(str(item[key]) for item in items)


def _commitment_row(record: dict[str, Any]) -> dict[str, Any]:
    organisations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for organisation in record["organisations"]:
        organisations[organisation["role"]].append(organisation)
    area = record["area"] or {}
    return {
        "reference": record["reference"],
        "uuid": record["uuid"],
        "deal": record["deal"]["code"],
        "deal_title": record["deal"]["title"],
        "foundation": record["foundation"]["code"],
        "foundation_name": record["foundation"]["name"],
        "area": area.get("code"),
        "area_name": area.get("name"),
        "themes": _names(record["themes"], "code"),
        "actor": record["actor"],
        "section": record["section"],
        "parent": record["parent"],
        "lead_in": record["lead_in"],
        "text": record["text"],
        "source_document": record["source_document"],
        "target_date_text": record["target_date_text"],
        "timing_kind": record["timing_kind"],
        "starts_on": record["starts_on"],
        "target_date": record["target_date"],
        "forecast_date": record["forecast_date"],
        "jobs": record["jobs"],
        "jobs_text": record["jobs_text"],
        "lead_organisations": _names(organisations[OrganisationRole.LEAD]),
        "partner_organisations": _names(organisations[OrganisationRole.PARTNER]),
        "funder_organisations": _names(organisations[OrganisationRole.FUNDER]),
        "programmes": _names(record["programmes"]),
        "owning_team": record["owning_team"],
    }


def _delivery_rows(counted: Any, *, day: date) -> list[dict[str, Any]]:
    """The state on ``day`` from the approved updates: the rules' own reading, and the update that governs."""
    governing = rules.governing_updates(day, commitment=OuterRef("pk")).values("uuid")[:1]
    rows: Any = rules.with_state_on(counted, day).annotate(  # the plugin cannot see these
        governing_uuid=Subquery(governing)
    )
    return [
        {
            "reference": row.reference,
            "status": row.state_status,
            "confidence": row.state_confidence,
            "progress": row.state_progress,
            "as_of": row.state_as_of,
            "overdue": rules.is_overdue(target_date=row.counted_target_date, status=row.state_status, day=day),
            "governing_update": row.governing_uuid,
        }
        for row in rows.order_by("reference")
    ]


def _funding_rows(references: set[str]) -> tuple[list[dict[str, Any]], list[FundingAmount]]:
    """The amounts partners see, of programmes and of the listed commitments; by key."""
    visible = visible_funding(AnonymousUser())
    amounts = [
        amount
        for amount in visible.select_related("funder", "commitment__deal", "programme", "part_of")
        .prefetch_related("joint_funders")
        .order_by("key")
        if amount.commitment is None or amount.commitment.reference in references
    ]
    listed = {amount.key for amount in amounts}
    rows = [
        {
            "key": amount.key,
            "amount_text": amount.amount_text,
            "qualifier": amount.qualifier,
            "low": amount.low,
            "high": amount.high,
            "currency": "GBP",
            "nature": amount.nature,
            "funder": amount.funder.name if amount.funder else None,
            "joint_funders": SEPARATOR.join(sorted(funder.name for funder in amount.joint_funders.all())),
            "commitment": amount.commitment.reference if amount.commitment else None,
            "programme": amount.programme.name if amount.programme else None,
            # A larger amount not listed (an unpublished commitment's) is, here, part of none.
            "part_of": amount.part_of.key if amount.part_of and amount.part_of.key in listed else None,
            "period_text": amount.period_text,
        }
        for amount in amounts
    ]
    return rows, amounts


# --- 360Giving ----------------------------------------------------------------------------------------------


def _grants(amounts: list[FundingAmount], references: set[str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The amounts that are grants, as 360Giving grants; and how many amounts were left out, by reason.

    A grant is new money given by a body of government (``GOVERNMENT_KINDS``) to a commitment whose one lead
    organisation is not a body of government, stated as an exact amount: the documents then name who gives
    what to whom. Every other amount stays out rather than have a recipient, a share or a figure invented.
    """
    commitment_ids = {amount.commitment_id for amount in amounts if amount.commitment_id is not None}
    leads: dict[int, list[Any]] = defaultdict(list)
    for involvement in (
        CommitmentOrganisation.objects.filter(commitment_id__in=commitment_ids, role=OrganisationRole.LEAD)
        .select_related("organisation")
        .order_by("organisation__name")
    ):
        leads[involvement.commitment_id].append(involvement.organisation)
    deal_dates = dict(Document.objects.values_list("pk", "published_on"))
    grants: list[dict[str, Any]] = []
    left_out: dict[str, int] = defaultdict(int)
    for amount in amounts:
        reason = _not_a_grant(amount, leads)
        if reason:
            left_out[reason] += 1
            continue
        commitment = amount.commitment
        assert commitment is not None  # noqa: S101 - checked by _not_a_grant
        assert amount.funder is not None  # noqa: S101 - checked by _not_a_grant
        (recipient,) = [lead for lead in leads[commitment.pk] if lead.pk != amount.funder_id]
        grants.append(
            {
                "id": f"{ID_PREFIX}-{amount.key}",
                "title": f"{amount.amount_text} from {amount.funder.name} ({commitment.reference})",
                "description": commitment.text,
                "currency": "GBP",
                "amountAwarded": _number(amount.low),
                "awardDate": deal_dates[commitment.deal_id].isoformat(),
                "recipientOrganization": [_organisation(recipient)],
                "fundingOrganization": [_organisation(amount.funder)],
            }
        )
    return grants, dict(sorted(left_out.items()))


def _not_a_grant(amount: FundingAmount, leads: dict[int, list[Any]]) -> str:
    """Why an amount is not published as a grant ("" when it is one)."""
    if amount.nature != AmountNature.NEW_MONEY:
        return f"nature: {amount.nature}"
    if amount.commitment_id is None:
        return "a programme's money, no recipient named"
    if amount.funder is None or amount.funder.kind not in GOVERNMENT_KINDS:
        return "not given by a body of government"
    if amount.qualifier != AmountQualifier.EXACT or amount.low is None or amount.low != amount.high:
        return "not an exact amount"
    recipients = [lead for lead in leads[amount.commitment_id] if lead.pk != amount.funder_id]
    if len(recipients) != 1:
        return "not one named recipient"
    if recipients[0].kind in GOVERNMENT_KINDS:
        return "to a body of government"
    return ""


def _organisation(organisation: Any) -> dict[str, str]:
    return {"id": f"{ID_PREFIX}-org-{organisation.uuid}", "name": organisation.name}


def _number(value: Decimal | None) -> int | float:
    assert value is not None  # noqa: S101 - only exact amounts are grants
    return int(value) if value == value.to_integral_value() else float(value)


# --- writing the files --------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    # Text a spreadsheet would run as a formula is quoted, as in every CSV the tracker writes.
    return str(safe_cell(str(value)))


def csv_bytes(table: Table, rows: list[dict[str, Any]]) -> bytes:
    """The table as RFC 4180 CSV: a header row, CRLF line ends, quoted where needed, UTF-8 without a BOM."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    names = [column.name for column in table.columns]
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row[name]) for name in names])
    return buffer.getvalue().encode("utf-8")


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _left_out_text(left_out: dict[str, int]) -> str:
    reasons = ", ".join(f"{reason} ({count})" for reason, count in left_out.items())
    return f"Amounts that are not grants are left out: {reasons}." if reasons else ""


def metadata(data: ReleaseData, *, quarter_label: str, version: int, issued: date) -> dict[str, Any]:
    """The CSV on the Web metadata (W3C tabular metadata) of the three tables."""
    return {
        "@context": "http://www.w3.org/ns/csvw",
        "dc:title": f"Life Sciences Industrial Strategy tracker: {quarter_label}, version {version}",
        "dc:publisher": PUBLISHER,
        "dc:license": {"@id": LICENCE, "dc:title": LICENCE_NAME},
        "dc:issued": {"@value": issued.isoformat(), "@type": "xsd:date"},
        "dialect": {"delimiter": ",", "lineTerminators": ["\r\n"], "header": True, "encoding": "utf-8"},
        # CSVW notes are annotations (objects); each says in words what the release holds or leaves out.
        "notes": [
            {"type": "Annotation", "body": text}
            for text in (
                f"The published commitments counted on the last day of {quarter_label}, and each one's delivery state "
                "on that day from the updates approved when this version was published. Version 1 is published as "
                "the board signs the quarter off; a correction made since (an update approved later, an edited "
                "commitment) is published as a later version, a restatement, with a note saying why.",
                "Left out: unpublished commitments and their money; who owns a commitment (only the owning team); "
                "updates' narratives and evidence; updates in review.",
                "funding.csv lists every amount partners see, whatever its nature; funding-360giving.json lists only "
                "government grants: new money given by a body of government to one named organisation, stated as an "
                "exact amount. Targets, restated, leveraged and private money, economy-wide context and money already "
                "invested are not grants and are left out of it. " + _left_out_text(data.left_out),
                GIVING_ATTRIBUTION,
            )
        ],
        "tables": [_table_metadata(table) for table in TABLES],
    }


def _table_metadata(table: Table) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "columns": [
            {"name": column.name, "titles": column.title, "datatype": column.datatype, "required": column.required}
            for column in table.columns
        ],
        "primaryKey": table.primary_key,
    }
    if table is DELIVERY:
        schema["foreignKeys"] = [
            {"columnReference": "reference", "reference": {"resource": COMMITMENTS.url, "columnReference": "reference"}}
        ]
    return {"url": table.url, "dc:title": table.title, "dc:description": table.description, "tableSchema": schema}


def giving_package(data: ReleaseData, *, quarter_label: str, version: int, issued: date) -> dict[str, Any]:
    """The grants as a 360Giving data package (version ``GIVING_VERSION``)."""
    return {
        "version": GIVING_VERSION,
        "title": f"Government grants in the Life Sciences Sector Deals: {quarter_label}, version {version}",
        "description": (
            "Grants among the amounts the Life Sciences Sector Deals state: new money given by a body of "
            "government to one named organisation, stated as an exact amount. The award date is the publication "
            "date of the deal that states it. Money that is not a grant (targets, restated, leveraged and private "
            "money, economy-wide context, money already invested) is left out, as is any grant whose recipient or "
            "figure the documents do not state. " + _left_out_text(data.left_out) + " " + GIVING_ATTRIBUTION
        ),
        "issued": issued.isoformat(),
        "publisher": {"name": PUBLISHER},
        "license": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        "grants": data.grants,
    }


def build_files(data: ReleaseData, *, quarter_label: str, version: int, issued: date) -> list[BuiltFile]:
    """Every file of a release, in ``FILE_NAMES`` order; the 360Giving package only when there is a grant."""
    files = [BuiltFile(table.url, CSV_MEDIA_TYPE, csv_bytes(table, data.tables[table.url])) for table in TABLES]
    described = metadata(data, quarter_label=quarter_label, version=version, issued=issued)
    files.append(BuiltFile(METADATA_NAME, CSVW_MEDIA_TYPE, _json_bytes(described)))
    if data.grants:  # the standard wants at least one grant in a package
        package = giving_package(data, quarter_label=quarter_label, version=version, issued=issued)
        files.append(BuiltFile(GIVING_NAME, JSON_MEDIA_TYPE, _json_bytes(package)))
    return files
