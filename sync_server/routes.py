"""The route table: every API route, in one place. ``app.py`` builds the application from it; the
access-control middleware and the OpenAPI document get it from the application they serve, so no
module imports the application back."""
from __future__ import annotations

from starlette.routing import BaseRoute, Route

from .endpoints import audit, batches, clinical, devices, health, interop, keys, people, priors, station, today, uploads, ward
from .endpoints.openapi import openapi

API_ROUTES: list[BaseRoute] = [
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/api/v1/keys", keys.public_keys, methods=["GET"]),
    Route("/api/v1/devices/enroll", devices.enroll_device, methods=["POST"]),
    Route("/api/v1/devices/enroll/confirm", devices.confirm_enrollment, methods=["POST"]),
    Route("/api/v1/devices/me", devices.whoami, methods=["GET"]),
    Route("/api/v1/devices/me/people/begin", devices.people_begin, methods=["POST"]),
    Route("/api/v1/devices/me/people", devices.people_add, methods=["POST"]),
    Route("/api/v1/devices/me/people", devices.people_list, methods=["GET"]),
    Route("/api/v1/devices/me/people/{person_id}", devices.people_remove, methods=["DELETE"]),
    Route("/api/v1/devices/me/status", station.report_status, methods=["PUT"]),
    Route("/api/v1/devices/me/priors", priors.device_priors, methods=["GET"]),
    *today.ROUTES,
    Route("/api/v1/batches", batches.propose_batch, methods=["POST"]),
    Route("/api/v1/batches/{batch_id}", batches.get_batch, methods=["GET"]),
    Route("/api/v1/batches/{batch_id}/commit", batches.commit_batch, methods=["POST"]),
    Route("/api/v1/batches/{batch_id}/receipt", batches.get_receipt, methods=["GET"]),
    Route("/api/v1/uploads", uploads.options, methods=["OPTIONS"]),
    Route("/api/v1/uploads", uploads.create, methods=["POST"]),
    Route("/api/v1/uploads/{upload_id}", uploads.head, methods=["HEAD"]),
    Route("/api/v1/uploads/{upload_id}", uploads.patch, methods=["PATCH"]),
    Route("/api/v1/uploads/{upload_id}", uploads.delete, methods=["DELETE"]),
    *people.ROUTES,
    *audit.ROUTES,
    *interop.ROUTES,
    *ward.ROUTES,
    *clinical.ROUTES,
]
