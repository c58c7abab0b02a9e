"""The import page: upload, what was detected, a preview, the mapping, a dry run, the run
with its progress, the report, the rejected rows as CSV, undo. The head's alone."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from funnelwatch.accounts.models import User
from funnelwatch.audit.trail import acting_as
from funnelwatch.core import params
from funnelwatch.core.jobs import enqueue_on_commit
from funnelwatch.crm.models import Pipeline, Stage
from funnelwatch.imports import engine, presets, readers, services
from funnelwatch.imports.models import ImportBatch, ImportPreset
from funnelwatch.imports.tasks import run_import


def _head_only(user: User) -> None:
    if not user.is_head:
        raise PermissionDenied(_("Only the head of sales can import."))


@login_required
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    _head_only(request.user)
    batches = ImportBatch.objects.select_related("created_by", "undone_by")[:50]
    return render(
        request,
        "imports/index.html",
        {"batches": batches, "formats": presets.FORMATS, "max_files": services.MAX_FILES},
    )


@login_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    _head_only(request.user)
    fmt = request.POST.get("format", "auto")
    if fmt != "auto" and fmt not in presets.FORMATS:
        messages.error(request, _("Format: choose one of the list."))
        return redirect("imports:index")
    uploads = request.FILES.getlist("files")
    if not uploads:
        messages.error(request, _("Files: choose at least one file to import."))
        return redirect("imports:index")
    if len(uploads) > services.MAX_FILES:
        messages.error(request, _("Files: at most %(n)s at once.") % {"n": services.MAX_FILES})
        return redirect("imports:index")
    if sum(f.size for f in uploads) > services.MAX_BYTES:
        messages.error(request, _("Files: together larger than the limit of 200 MB."))
        return redirect("imports:index")
    files = [(services.safe_name(f.name), f.read()) for f in uploads]
    try:
        with transaction.atomic(), acting_as(request.user):
            batch = ImportBatch.objects.create(
                created_by=request.user, format=fmt, file_names=[n for n, _d in files]
            )
            batch.preview = services.make_preview(batch, files, fmt)
            batch.format = batch.preview["format"]
            batch.encoding = ", ".join(
                sorted({f["encoding"] for f in batch.preview["files"] if f["encoding"]})
            )
            services.store(batch, files)
            batch.save()
    except readers.UnreadableFile as exc:
        messages.error(request, _("Files: %(error)s") % {"error": exc})
        return redirect("imports:index")
    return redirect("imports:batch", pk=batch.pk)


def _choices(batch: ImportBatch) -> tuple[list[str], list[str]]:
    """The source stages and owners the mapping form offers."""
    preview = batch.preview or {}
    stages, owners = list(preview.get("stages", [])), list(preview.get("owners", []))
    columns = (batch.mapping or {}).get("columns") or {}
    if not stages and isinstance(columns.get("stage"), str):
        stages = services.values_of(batch, columns["stage"])
    if not owners and isinstance(columns.get("owner"), str):
        owners = services.values_of(batch, columns["owner"])
    return stages, owners


@login_required
@require_safe
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _head_only(request.user)
    batch = get_object_or_404(ImportBatch.objects.select_related("created_by", "undone_by"), pk=pk)
    mapping = dict(batch.mapping or {})
    preset_id = params.object_id(request.GET, "preset")
    if preset_id is not None:
        preset = get_object_or_404(ImportPreset, pk=preset_id)
        mapping = dict(preset.mapping)
        batch.format = preset.format
    stages, owners = _choices(batch) if batch.state == ImportBatch.State.DRAFT else ([], [])
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    our_stages = list(Stage.objects.filter(pipeline=pipeline).values_list("name", flat=True))
    detected = {}
    for f in (batch.preview or {}).get("files", []):
        detected.update(f.get("columns") or {})
    columns = mapping.get("columns") or detected
    report = batch.report or {}
    return render(
        request,
        "imports/batch.html",
        {
            "batch": batch,
            "preview": batch.preview or {},
            "formats": presets.FORMATS,
            "fields": [(f, columns.get(f, "")) for f in presets.GENERIC_FIELDS],
            "headers": (batch.preview or {}).get("headers", []),
            "stage_rows": [
                (i, name, (mapping.get("stages") or {}).get(name, ""))
                for i, name in enumerate(stages)
            ],
            "owner_rows": [
                (i, name, (mapping.get("owner_map") or {}).get(name, ""))
                for i, name in enumerate(owners)
            ],
            "our_stages": our_stages,
            "users": User.objects.order_by("username").values_list("username", flat=True),
            "owners_mode": mapping.get("owners", "create"),
            "date_format": mapping.get("date_format", ""),
            "presets": ImportPreset.objects.all(),
            "dry": batch.dry_report or {},
            "report": report,
            "rejected": report.get("rejected", [])[:200],
            "warnings": report.get("warnings", [])[:200],
            "progress": services.read_progress(batch),
        },
    )


def _mapping_from(request: HttpRequest, batch: ImportBatch) -> tuple[str, dict]:
    post = request.POST
    fmt = post.get("format", batch.format)
    if fmt not in presets.FORMATS:
        raise engine.ImportFailed(_("Format: choose one of the list."))
    headers = {h for f in (batch.preview or {}).get("files", []) for h in f.get("headers", [])}
    columns = {}
    for fld in presets.GENERIC_FIELDS:
        value = post.get(f"col_{fld}", "").strip()
        if value:
            if value not in headers:
                raise engine.ImportFailed(
                    _("Column for %(field)s: the files have no column %(column)s.")
                    % {"field": fld, "column": value}
                )
            columns[fld] = value
    mapping: dict = {}
    if columns:
        mapping["columns"] = columns
    stages, owners = _choices(batch)
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    ours = set(Stage.objects.filter(pipeline=pipeline).values_list("name", flat=True))
    stage_map = {}
    for i, name in enumerate(stages):
        choice = post.get(f"stage_{i}", "").strip()
        if choice:
            if choice not in ("open", "won", "lost") and choice not in ours:
                raise engine.ImportFailed(
                    _("Stage %(name)s: %(choice)s is not a stage.")
                    % {"name": name, "choice": choice}
                )
            stage_map[name] = choice
    if stage_map:
        mapping["stages"] = stage_map
    owner_map = {}
    for i, name in enumerate(owners):
        choice = post.get(f"owner_{i}", "").strip()
        if choice:
            if not User.objects.filter(username=choice).exists():
                raise engine.ImportFailed(
                    _("Owner %(name)s: no user %(choice)s.") % {"name": name, "choice": choice}
                )
            owner_map[name] = choice
    if owner_map:
        mapping["owner_map"] = owner_map
    mapping["owners"] = post.get("owners", "create")
    date_format = post.get("date_format", "").strip()
    if date_format:
        mapping["date_format"] = date_format
    return fmt, engine.validate_mapping(mapping, fmt)


@login_required
@require_POST
def run(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the mapping (and a preset of it), then queue a dry run or the import."""
    _head_only(request.user)
    batch = get_object_or_404(ImportBatch, pk=pk)
    if batch.state != ImportBatch.State.DRAFT:
        messages.error(request, _("This import has already run."))
        return redirect("imports:batch", pk=pk)
    action = request.POST.get("action", "dry_run")
    if action not in ("dry_run", "run"):
        messages.error(request, _("Choose a dry run or the import."))
        return redirect("imports:batch", pk=pk)
    try:
        fmt, mapping = _mapping_from(request, batch)
    except engine.ImportFailed as exc:
        messages.error(request, str(exc))
        return redirect("imports:batch", pk=pk)
    preset_name = request.POST.get("preset_name", "").strip()[:100]
    with transaction.atomic(), acting_as(request.user):
        batch = ImportBatch.objects.select_for_update().get(pk=pk)
        if batch.state != ImportBatch.State.DRAFT:
            messages.error(request, _("This import has already run."))
            return redirect("imports:batch", pk=pk)
        batch.format, batch.mapping = fmt, mapping
        if preset_name:
            ImportPreset.objects.update_or_create(
                name=preset_name,
                defaults={"format": fmt, "mapping": mapping, "created_by": request.user},
            )
        # Both run in the background: a dry run of a big file takes as long as the import.
        batch.state = ImportBatch.State.QUEUED if action == "run" else ImportBatch.State.CHECKING
        batch.dry_report = {} if action == "dry_run" else batch.dry_report
        batch.save()
        services.write_progress(batch.pk, 0, 0)
        enqueue_on_commit(run_import, batch.pk)
    return redirect("imports:batch", pk=pk)


@login_required
@require_safe
def progress(request: HttpRequest, pk: int) -> JsonResponse:
    _head_only(request.user)
    batch = get_object_or_404(ImportBatch, pk=pk)
    return JsonResponse(services.read_progress(batch))


@login_required
@require_safe
def rejected(request: HttpRequest, pk: int) -> HttpResponse:
    _head_only(request.user)
    batch = get_object_or_404(ImportBatch, pk=pk)
    response = HttpResponse(services.rejected_csv(batch), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-rejected.csv"'
    return response


@login_required
@require_POST
def undo(request: HttpRequest, pk: int) -> HttpResponse:
    _head_only(request.user)
    batch = get_object_or_404(ImportBatch, pk=pk)
    try:
        removed = engine.undo(batch, request.user)
    except engine.UndoRefused as exc:
        messages.error(request, _("Undo refused: %(reason)s") % {"reason": exc})
        return redirect("imports:batch", pk=pk)
    messages.success(
        request,
        _("Import undone: %(deals)s deals, %(contacts)s contacts, %(companies)s companies removed.")
        % removed,
    )
    return redirect("imports:batch", pk=pk)
