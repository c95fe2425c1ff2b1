"""The toolkit's media check, as every network with a MediaRule uses it."""

from __future__ import annotations

from shared.networks.ports import MediaItem, MediaRule
from shared.networks.toolkit.media import media_problems, size

RULE = MediaRule(content_types=("image/png", "video/mp4"), max_bytes=10, max_items=2, alt_text_limit=5)


def test_media_within_the_rule_has_no_problems() -> None:
    media = (MediaItem("image/png", b"0" * 10, alt_text="short"), MediaItem("image/png", b"0"))
    assert media_problems(media, RULE, "Net") == []


def test_each_kind_of_problem_is_named_with_its_attachment() -> None:
    media = (
        MediaItem("image/png", b"0" * 11),
        MediaItem("image/tiff", b"0" * 99),
        MediaItem("image/png", b"0", alt_text="too long"),
    )
    assert media_problems(media, RULE, "the net") == [
        "3 attachments; the net takes at most 2",
        "attachment 1 is 11 bytes; the net takes at most 10 bytes of image/png",
        "attachment 2: Crier sends image/png, video/mp4 to the net, not image/tiff",
        "attachment 3: the description is over 5 characters",
    ]


def test_a_video_goes_alone_and_may_have_a_limit_of_its_own() -> None:
    video = MediaItem("video/mp4", b"0" * 20)
    alone, larger = ("video/mp4",), {"video/mp4": 20}
    assert media_problems((video,), RULE, "Net", alone=alone, limits=larger) == []
    assert media_problems((video,), RULE, "Net", alone=alone) == [
        "attachment 1 is 20 bytes; Net takes at most 10 bytes of video/mp4"
    ]
    assert media_problems((video, MediaItem("image/png", b"0")), RULE, "Net", alone=alone, limits=larger) == [
        "a video/mp4 attachment must be the only one on Net"
    ]


def test_a_type_may_have_a_smaller_limit_than_the_rules() -> None:
    photo = MediaItem("image/png", b"0" * 6)
    assert media_problems((photo,), RULE, "Net", limits={"image/png": 5}) == [
        "attachment 1 is 6 bytes; Net takes at most 5 bytes of image/png"
    ]


def test_a_limit_of_whole_megabytes_reads_as_megabytes() -> None:
    assert size(8 * 1024 * 1024) == "8 MB"
    assert size(8 * 1024 * 1024 + 1) == "8388609 bytes"
    assert size(1000) == "1000 bytes"


def test_a_rule_without_an_alt_text_limit_takes_any_description() -> None:
    rule = MediaRule(content_types=("image/png",), max_bytes=10, max_items=1)
    assert media_problems((MediaItem("image/png", b"0", alt_text="x" * 5000),), rule, "Net") == []
