"""KIE's file upload API (base64) against the simulator: the photo goes up, its downloadUrl serves it back."""

from __future__ import annotations

import httpx
import pytest

from poller.errors import JobError
from poller.images import ImageType
from providers.api_client import ApiClient
from providers.kie_upload import KieUploadLinks
from sandbox import images
from tests.fixtures.kie import KieStandIn

pytestmark = pytest.mark.integration


async def test_upload_returns_a_download_url_that_serves_the_photo(api_client: ApiClient, kie: KieStandIn) -> None:
    photo = images.jpeg(1280, 720)
    url = await KieUploadLinks(api_client, kie.url, kie.api_key).link_for("inputs/job1.jpg", photo, ImageType.JPEG)

    async with httpx.AsyncClient() as client:
        served = await client.get(url)
    assert served.content == photo
    assert served.headers["content-type"] == "image/jpeg"
    [upload] = kie.sim.inputs.uploads
    assert (upload.name, upload.upload_path) == ("job1.jpg", "reelay/inputs")


async def test_a_wrong_key_is_an_error_not_a_link(api_client: ApiClient, kie: KieStandIn) -> None:
    with pytest.raises(JobError):
        await KieUploadLinks(api_client, kie.url, "wrong").link_for("inputs/j.png", images.png(9, 9), ImageType.PNG)
    assert kie.sim.inputs.uploads == []
