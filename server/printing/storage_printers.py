"""Table rows for storage: persistent volumes and claims, storage classes, CSI drivers and nodes,
volume attachments.

Columns and cells follow upstream's ``pkg/printers/internalversion/printers.go``: capacities in
canonical quantity form, access modes as ``RWO,ROX,RWX,RWOP``, the class from the beta annotation
before the field (helper.GetPersistentVolumeClass), ``Terminating`` once a deletionTimestamp is set,
``<unset>`` for absent optional fields. (CSIStorageCapacity has a printer upstream but its registry
serves the default Name/Created At table, so it has none here.)
"""

from __future__ import annotations

from typing import Any

from server.printing.cells import access_modes, quantity_text
from server.printing.printers import AGE, NAME, Obj, Printer, column, created_age, meta_of, name_of

_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
_VOLUME_MODE = column("VolumeMode", "volumeMode defines if a volume is intended to be used with a formatted "
                      "filesystem or to remain in raw block state.", priority=1)


def _storage_class_of(obj: Obj) -> str:
    annotations = meta_of(obj).get("annotations") or {}
    if _BETA_CLASS in annotations:
        return str(annotations[_BETA_CLASS])
    return str((obj.get("spec") or {}).get("storageClassName") or "")


def _phase(obj: Obj) -> str:
    if meta_of(obj).get("deletionTimestamp"):
        return "Terminating"
    return str((obj.get("status") or {}).get("phase") or "")


def _persistent_volume_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    claim = spec.get("claimRef")
    return [
        name_of(obj), quantity_text((spec.get("capacity") or {}).get("storage")),
        access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""), _phase(obj),
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "", _storage_class_of(obj),
        spec.get("volumeAttributesClassName") or "<unset>", status.get("reason", ""), created_age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]


PERSISTENT_VOLUME = Printer(
    columns=(NAME, column("Capacity", "capacity is the description of the persistent volume's resources and "
                          "capacity."),
             column("Access Modes", "accessModes contains all ways the volume can be mounted."),
             column("Reclaim Policy", "persistentVolumeReclaimPolicy defines what happens to a persistent "
                    "volume when released from its claim."),
             column("Status", "phase indicates if a volume is available, bound to a claim, or released by a "
                    "claim."),
             column("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and "
                    "PersistentVolumeClaim."),
             column("StorageClass", "StorageClass of the pv"),
             column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
             column("Reason", "reason is a brief CamelCase string that describes any failure and is meant "
                    "for machine parsing and tidy display in the CLI."),
             AGE, _VOLUME_MODE),
    cells=_persistent_volume_cells)


def _claim_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    bound = bool(spec.get("volumeName"))
    # Capacity and access modes come from the status, and only once the claim is bound.
    capacity = quantity_text((status.get("capacity") or {}).get("storage")) if bound else ""
    modes = access_modes(status.get("accessModes")) if bound else ""
    return [
        name_of(obj), _phase(obj), spec.get("volumeName", ""), capacity, modes, _storage_class_of(obj),
        spec.get("volumeAttributesClassName") or "<unset>", created_age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]


PERSISTENT_VOLUME_CLAIM = Printer(
    columns=(NAME, column("Status", "phase represents the current phase of PersistentVolumeClaim."),
             column("Volume", "volumeName is the binding reference to the PersistentVolume backing this "
                    "claim."),
             column("Capacity", "capacity represents the actual resources of the underlying volume."),
             column("Access Modes", "accessModes contains the actual access modes the volume backing the PVC "
                    "has."),
             column("StorageClass", "StorageClass of the pvc"),
             column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"), AGE, _VOLUME_MODE),
    cells=_claim_cells)


def _storage_class_cells(obj: Obj, now: float) -> list[Any]:
    name = name_of(obj)
    annotations = meta_of(obj).get("annotations") or {}
    if "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                  annotations.get("storageclass.beta.kubernetes.io/is-default-class")):
        name += " (default)"
    return [
        name, obj.get("provisioner", ""), obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")),
        created_age(obj, now),
    ]


STORAGE_CLASS = Printer(
    columns=(NAME, column("Provisioner", "The volume plugin that provisions volumes."),
             column("ReclaimPolicy", "What happens to released volumes."),
             column("VolumeBindingMode", "When volumes are bound and provisioned."),
             column("AllowVolumeExpansion", "Whether volumes may be expanded."), AGE),
    cells=_storage_class_cells)


def _csi_driver_cells(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    requests = spec.get("tokenRequests")
    return [
        name_of(obj), spec.get("attachRequired", True), bool(spec.get("podInfoOnMount")),
        bool(spec.get("storageCapacity")),
        "<unset>" if requests is None else ",".join(r.get("audience", "") for r in requests),
        bool(spec.get("requiresRepublish")), ",".join(spec.get("volumeLifecycleModes") or ()) or "<none>",
        created_age(obj, now),
    ]


CSI_DRIVER = Printer(
    columns=(NAME,
             column("AttachRequired", "attachRequired indicates this CSI volume driver requires an attach "
                    "operation.", type_="boolean"),
             column("PodInfoOnMount", "podInfoOnMount indicates this CSI volume driver requires additional "
                    "pod information during mount operations.", type_="boolean"),
             column("StorageCapacity", "storageCapacity indicates that the CSI volume driver wants pod "
                    "scheduling to consider the storage capacity.", type_="boolean"),
             column("TokenRequests", "tokenRequests indicates the CSI driver needs pods' service account "
                    "tokens it is mounting volume for to do necessary authentication."),
             column("RequiresRepublish", "requiresRepublish indicates the CSI driver wants NodePublishVolume "
                    "being periodically called.", type_="boolean"),
             column("Modes", "volumeLifecycleModes defines what kind of volumes this CSI volume driver "
                    "supports."), AGE),
    cells=_csi_driver_cells)

CSI_NODE = Printer(
    columns=(NAME, column("Drivers", "Drivers indicates the number of CSI drivers registered on the node",
                          type_="integer"), AGE),
    cells=lambda obj, now: [name_of(obj), len((obj.get("spec") or {}).get("drivers") or ()),
                            created_age(obj, now)])


def _volume_attachment_cells(obj: Obj, now: float) -> list[Any]:
    spec = obj.get("spec") or {}
    source = spec.get("source") or {}
    return [name_of(obj), spec.get("attacher", ""), source.get("persistentVolumeName") or "",
            spec.get("nodeName", ""), bool((obj.get("status") or {}).get("attached")), created_age(obj, now)]


VOLUME_ATTACHMENT = Printer(
    columns=(NAME, column("Attacher", "attacher indicates the name of the volume driver that MUST handle "
                          "this request.", fmt="name"),
             column("PV", "persistentVolumeName represents the name of the persistent volume to attach."),
             column("Node", "nodeName represents the node that the volume should be attached to."),
             column("Attached", "attached indicates the volume is successfully attached.", type_="boolean"),
             AGE),
    cells=_volume_attachment_cells)
