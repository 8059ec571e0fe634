"""Nothing of the input survives but the picture: metadata and appended bytes are dropped."""

from __future__ import annotations

import io
import zipfile

import pytest
from media_samples import encode, jpeg, quadrants
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from hexavatar.media import ProcessedImage, process_image

SECRET = b"HEXAVATAR-SECRET-7f3a"
GPS_DATUM = "HEXAVATAR-GPS-DATUM-91c2"


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "SecretCam"  # Make
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.345)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 17.89)
    gps[ExifTags.GPS.GPSMapDatum] = GPS_DATUM
    return exif.tobytes()


def assert_clean(result: ProcessedImage, *needles: bytes) -> None:
    for rendition in result.renditions:
        data = rendition.data
        for needle in (*needles, b"Exif\x00\x00", b"acsp", b"ICCP", b"EXIF", b"XMP ", b"iTXt"):
            assert needle not in data, (rendition.size, rendition.format, needle)
        image = Image.open(io.BytesIO(data))
        image.load()
        kept = set(image.info) & {"exif", "icc_profile", "xmp", "comment", "XML:com.adobe.xmp"}
        assert not kept, (rendition.size, rendition.format, kept)
        assert not image.text if isinstance(image, PngImagePlugin.PngImageFile) else True
        assert len(image.getexif()) == 0


def test_gps_exif_is_dropped() -> None:
    exif = gps_exif()
    data = jpeg(quadrants(64, 48), exif=exif)
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really carries GPS
    assert GPS_DATUM.encode() in data
    assert_clean(process_image(data), GPS_DATUM.encode(), b"SecretCam", exif[10:40])


def test_jpeg_xmp_icc_and_comment_are_dropped() -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>' + SECRET + b"</rdf:RDF></x:xmpmeta>"
    data = jpeg(quadrants(64, 48), xmp=xmp, icc_profile=srgb_icc(), comment=SECRET + b"-COM")
    source = Image.open(io.BytesIO(data))
    assert {"xmp", "icc_profile", "comment"} <= set(source.info)
    assert_clean(process_image(data), SECRET, b"http://ns.adobe.com/xap/1.0/")


def test_png_text_chunks_and_icc_are_dropped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET.decode())
    info.add_text("Author", SECRET.decode() + "-z", zip=True)
    info.add_itxt("XML:com.adobe.xmp", SECRET.decode() + "-xmp")
    data = encode(quadrants(64, 48), "PNG", pnginfo=info, icc_profile=srgb_icc())
    assert {"Comment", "Author", "XML:com.adobe.xmp", "icc_profile"} <= set(
        Image.open(io.BytesIO(data)).info
    )
    assert_clean(process_image(data), SECRET, b"tEXt", b"zTXt", b"iCCP")


def test_webp_metadata_is_dropped() -> None:
    data = encode(
        quadrants(64, 48), "WEBP", exif=gps_exif(), icc_profile=srgb_icc(), xmp=SECRET + b"-xmp"
    )
    assert b"ICCP" in data and b"EXIF" in data
    assert_clean(process_image(data), SECRET, GPS_DATUM.encode())


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("payload.txt", SECRET * 20)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_appended_zip_is_absent_from_every_output(fmt: str) -> None:
    archive = zip_archive()
    source = quadrants(64, 48)
    data = encode(source.convert("P") if fmt == "GIF" else source, fmt) + archive
    assert zipfile.is_zipfile(io.BytesIO(data))  # a polyglot: image and ZIP at once
    result = process_image(data)
    for rendition in result.renditions:
        assert b"PK\x03\x04" not in rendition.data
        assert b"PK\x05\x06" not in rendition.data
        assert SECRET not in rendition.data
        assert not zipfile.is_zipfile(io.BytesIO(rendition.data))
