"""Image inputs in the KIE simulator: the upload API (stream and base64), and every image URL of a create fetched,
recorded, and refused when it serves no photo."""

from __future__ import annotations

import base64

import httpx
import pytest

from sandbox import images
from tests.fixtures.kie import KieStandIn

pytestmark = pytest.mark.integration


async def upload(client: httpx.AsyncClient, kie: KieStandIn, photo: bytes, name: str = "a.png") -> str:
    answer = await client.post(
        f"{kie.url}/api/file-stream-upload",
        headers={"Authorization": f"Bearer {kie.api_key}"},
        files={"file": (name, photo, "image/png")},
        data={"uploadPath": "reelay/inputs", "fileName": name},
    )
    body = answer.json()
    assert (answer.status_code, body["code"], body["success"]) == (200, 200, True)
    assert body["data"]["fileSize"] == len(photo)
    return str(body["data"]["downloadUrl"])


async def test_stream_upload_serves_the_file_back(kie: KieStandIn) -> None:
    photo = images.png(640, 480)
    async with httpx.AsyncClient() as client:
        url = await upload(client, kie, photo)
        assert (await client.get(url)).content == photo


async def test_base64_upload_takes_a_data_url(kie: KieStandIn) -> None:
    photo = images.webp(640, 480)
    data_url = "data:image/webp;base64," + base64.b64encode(photo).decode()
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{kie.url}/api/file-base64-upload",
            headers={"Authorization": f"Bearer {kie.api_key}"},
            json={"base64Data": data_url, "uploadPath": "x", "fileName": "b.webp"},
        )
        served = await client.get(answer.json()["data"]["downloadUrl"])
    assert served.content == photo
    assert served.headers["content-type"] == "image/webp"


async def test_uploads_need_the_key(kie: KieStandIn) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{kie.url}/api/file-base64-upload", json={"base64Data": "AAAA"})
    assert answer.json()["code"] == 401
    assert kie.sim.inputs.uploads == []


async def test_a_veo_image_request_fetches_and_records_the_image(kie: KieStandIn) -> None:
    photo = images.jpeg(1280, 720)
    async with httpx.AsyncClient() as client:
        url = await upload(client, kie, photo, "c.jpg")
        answer = await client.post(
            f"{kie.url}/api/v1/veo/generate",
            headers={"Authorization": f"Bearer {kie.api_key}"},
            json={"prompt": "a fox", "imageUrls": [url], "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"},
        )
    assert answer.json()["code"] == 200
    assert kie.sim.inputs.fetched == {url: photo}


@pytest.mark.parametrize(
    ("image_url", "words"), [("http://127.0.0.1:9/gone.png", "image fetch failed"), (None, "not a JPEG")]
)
async def test_an_image_that_cannot_be_used_refuses_the_create(
    kie: KieStandIn, image_url: str | None, words: str
) -> None:
    async with httpx.AsyncClient() as client:
        url = image_url or await upload(client, kie, images.pdf(), "d.pdf")
        answer = await client.post(
            f"{kie.url}/api/v1/jobs/createTask",
            headers={"Authorization": f"Bearer {kie.api_key}"},
            json={"model": "bytedance/seedance-2", "input": {"prompt": "a fox", "first_frame_url": url}},
        )
    assert answer.json()["code"] == 422
    assert words in answer.json()["msg"]
    assert kie.sim.tasks == {}


async def test_first_and_last_frames_mode_needs_images(kie: KieStandIn) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{kie.url}/api/v1/veo/generate",
            headers={"Authorization": f"Bearer {kie.api_key}"},
            json={"prompt": "a fox", "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"},
        )
    assert answer.json()["code"] == 422
