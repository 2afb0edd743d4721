#!/usr/bin/env python3
"""Photos with a third-party client: upload, post, follow, like, comment, timelines, notifications.

Usage: python3 tests/python/mastodon_py_photos.py BASE_URL TOKEN_ANA TOKEN_BEN

BASE_URL is a peerpx node (plain http on loopback is fine); TOKEN_ANA and TOKEN_BEN are user
tokens with the scopes `read write follow` of two active accounts that do not follow each other.
Every call goes through Mastodon.py's own API methods, as a third-party app would make them; only
the photo's bytes are fetched with plain `requests`. Prints one line per step and exits non-zero,
with the reason, on the first failure.
"""

import os
import sys
import traceback

import requests
from mastodon import Mastodon

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
PHOTO = os.path.join(DATA, "chelsea-orientation-6.jpg")
TIMEOUT = 30


class Failure(Exception):
    """A check that did not hold."""


def check(condition, message):
    # Not `assert`: the checks must also hold under `python3 -O`.
    if not condition:
        raise Failure(message)


def step(message):
    print(f"-- {message}", flush=True)


def client(base, token):
    return Mastodon(
        api_base_url=base,
        access_token=token,
        ratelimit_method="throw",
        version_check_mode="none",
        request_timeout=TIMEOUT,
    )


def ids(items):
    return [str(i.id) for i in items]


def run(base, token_ana, token_ben):
    ana = client(base, token_ana)
    ben = client(base, token_ben)
    me = ana.account_verify_credentials()
    them = ben.account_verify_credentials()

    step("ana: media_post(chelsea-orientation-6.jpg, description, focus)")
    media = ana.media_post(PHOTO, description="A cat on a sofa", focus=(0.1, -0.2))
    check(media.type == "image", f"type is {media.type!r}")
    check(media.description == "A cat on a sofa", f"description is {media.description!r}")
    original = media.meta.original
    check((original.width, original.height) == (451, 300), f"not upright: {original!r}")
    check(abs(media.meta.focus.x - 0.1) < 1e-6 and abs(media.meta.focus.y + 0.2) < 1e-6, f"focus {media.meta.focus!r}")
    exif = media.meta["exif"]
    check(exif["camera_model"] == "X-T4", f"EXIF camera: {exif!r}")
    check(exif["iso"] == 400, f"EXIF ISO: {exif!r}")
    check("location" not in exif, f"GPS must not be shown unless kept: {exif!r}")
    check(media.blurhash, "no blurhash")
    check("/ipfs/" in media.url and "/ipfs/" in media.preview_url, f"urls: {media.url} {media.preview_url}")

    step(f"GET {media.url}")
    fetched = requests.get(media.url, timeout=TIMEOUT)
    check(fetched.status_code == 200, f"HTTP {fetched.status_code}")
    check(fetched.headers.get("content-type", "").startswith("image/"), f"type {fetched.headers.get('content-type')}")

    step("ana: media_update(description)")
    media = ana.media_update(media, description="A tabby cat on a sofa")
    check(media.description == "A tabby cat on a sofa", f"not updated: {media.description!r}")

    step("ana: status_post with the photo, a tag and a language")
    post = ana.status_post("Chelsea at dusk #Cats", media_ids=[media], visibility="public", language="en")
    check([m.id for m in post.media_attachments] == [media.id], f"media {post.media_attachments!r}")
    check([t.name for t in post.tags] == ["cats"], f"tags {post.tags!r}")

    step("ben: account_follow(ana)")
    rel = ben.account_follow(me.id)
    check(rel.following is True, f"not following: {rel!r}")
    check(ben.account(me.id).followers_count == 1, "ana's followers_count is not 1")

    step("ben: timeline_home, timeline_local(only_media), timeline_hashtag")
    check(str(post.id) in ids(ben.timeline_home()), "the post is not in ben's home timeline")
    check(str(post.id) in ids(ben.timeline_local(only_media=True)), "not in the local media timeline")
    check(ids(ben.timeline_hashtag("cats")) == [str(post.id)], "not in the #cats timeline")

    step("ben: status_favourite, status_bookmark, and a comment")
    liked = ben.status_favourite(post)
    check(liked.favourited is True and liked.favourites_count == 1, f"favourite: {liked!r}")
    check(ben.status_bookmark(post).bookmarked is True, "bookmark failed")
    comment = ben.status_post("Lovely light!", in_reply_to_id=post)
    check(str(comment.in_reply_to_id) == str(post.id), f"in_reply_to_id {comment.in_reply_to_id!r}")

    step("ana: notifications, context, favourited_by")
    notes = ana.notifications()
    kinds = sorted(n.type for n in notes)
    check(kinds == ["favourite", "follow", "mention"], f"notification types {kinds}")
    check(all(str(n.account.id) == str(them.id) for n in notes), "a notification from someone else")
    context = ana.status_context(post)
    check(ids(context.descendants) == [str(comment.id)], f"descendants {ids(context.descendants)}")
    check(ids(ana.status_favourited_by(post)) == [str(them.id)], "favourited_by is not ben")

    step("ana: status_update (caption and alt text) and status_history")
    updated = ana.status_update(
        post,
        "Chelsea at dusk #cats #lyon",
        # Only media_attributes: Mastodon.py 2.3.3 fails (set + set) when media_ids is given too,
        # and fills media_ids from the attributes itself.
        media_attributes=[ana.generate_media_edit_attributes(media, description="A sleepy tabby cat")],
    )
    check(updated.edited_at is not None, "edited_at not set")
    check(updated.media_attachments[0].description == "A sleepy tabby cat", "alt text not edited")
    history = ana.status_history(post)
    check(len(history) == 2, f"{len(history)} versions")

    step("ben: favourites, bookmarks; ana: account_statuses(only_media), relationships")
    check(ids(ben.favourites()) == [str(post.id)], "favourites list")
    check(ids(ben.bookmarks()) == [str(post.id)], "bookmarks list")
    check(ids(ana.account_statuses(me.id, only_media=True)) == [str(post.id)], "profile media")
    rel = ana.account_relationships([them.id])[0]
    check(rel.followed_by is True and rel.following is False, f"relationship {rel!r}")

    step("ana: status_delete; the post leaves ben's timelines")
    ana.status_delete(post)
    check(str(post.id) not in ids(ben.timeline_home()), "deleted post still in home")
    check(ben.favourites() == [], "deleted post still in favourites")

    print("OK: Mastodon.py uploaded, posted, followed, liked, commented, edited and deleted a photo")


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        run(argv[1].rstrip("/"), argv[2], argv[3])
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        return 1
    except Exception as e:  # noqa: BLE001 - any library error fails the run with its trace
        traceback.print_exc(limit=-12)
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
