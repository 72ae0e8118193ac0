"""Target choice and upgrade paths, on a catalogue shaped like `locations/{l}/kubernetesVersions`."""

import pytest

from bluegreen.errors import PermanentError
from bluegreen.versions import Catalogue, Version, choose_target, plan_versions, upgrade_path

CATALOGUE = Catalogue.from_arm(
    {
        "values": [
            {"version": "1.31", "patchVersions": {"1.31.5": {}, "1.31.8": {}, "1.31.11": {}}},
            {"version": "1.32", "patchVersions": {"1.32.6": {}, "1.32.9": {}}},
            {"version": "1.33", "patchVersions": {"1.33.3": {}, "1.33.6": {}}},
            {"version": "1.34", "patchVersions": {"1.34.1": {}, "1.34.2": {}}},
            {"version": "1.35", "isPreview": True, "patchVersions": {"1.35.0": {}}},
        ]
    }
)


def test_latest_is_the_newest_ga_minors_latest_patch_never_a_preview():
    assert choose_target("latest", CATALOGUE) == Version(1, 34, 2)
    assert choose_target(None, CATALOGUE) == Version(1, 34, 2)


def test_preview_only_when_asked():
    assert choose_target("latest", CATALOGUE, allow_preview=True) == Version(1, 35, 0)
    with pytest.raises(PermanentError, match="generally available"):
        choose_target("1.35.0", CATALOGUE)


def test_a_minor_means_its_latest_patch():
    assert choose_target("1.33", CATALOGUE) == Version(1, 33, 6)


def test_unknown_version_is_refused_with_its_name():
    with pytest.raises(PermanentError, match=r"1\.33\.4"):
        choose_target("1.33.4", CATALOGUE)
    with pytest.raises(PermanentError, match="not a Kubernetes version"):
        choose_target("banana", CATALOGUE)


def test_path_goes_one_minor_per_hop_through_latest_patches():
    path = upgrade_path(Version(1, 31, 8), Version(1, 34, 2), CATALOGUE)
    assert path == [Version(1, 32, 9), Version(1, 33, 6), Version(1, 34, 2)]
    assert all(b.minor - a.minor == 1 for a, b in zip([Version(1, 31, 8), *path], path, strict=False))


def test_path_ends_exactly_at_an_older_patch_target():
    assert upgrade_path(Version(1, 31, 8), Version(1, 33, 3), CATALOGUE) == [Version(1, 32, 9), Version(1, 33, 3)]


def test_patch_upgrade_is_one_hop_and_same_version_is_none():
    assert upgrade_path(Version(1, 31, 5), Version(1, 31, 11), CATALOGUE) == [Version(1, 31, 11)]
    assert upgrade_path(Version(1, 31, 8), Version(1, 31, 8), CATALOGUE) == []


def test_downgrade_is_refused():
    with pytest.raises(PermanentError, match="older"):
        upgrade_path(Version(1, 33, 6), Version(1, 32, 9), CATALOGUE)


def test_missing_intermediate_minor_is_refused():
    gap = Catalogue.from_arm(
        {
            "values": [
                {"version": "1.31", "patchVersions": {"1.31.8": {}}},
                {"version": "1.33", "patchVersions": {"1.33.6": {}}},
            ]
        }
    )
    with pytest.raises(PermanentError, match=r"1\.32"):
        upgrade_path(Version(1, 31, 8), Version(1, 33, 6), gap)


@pytest.mark.parametrize(
    "text", ["\uff11.\uff13\uff13", "1.33.2.1", "v1", "1.\u0663\u0663", "1.33 .2"]
)  # fullwidth, Arabic-Indic
def test_only_ascii_versions_parse(text):
    with pytest.raises(PermanentError):
        Version.parse(text)


# ---- where green starts (plan_versions): a blue whose patch or minor is no longer offered still upgrades


def test_clone_starts_at_the_newest_offered_patch_of_blues_minor():
    plan = plan_versions(Version(1, 31, 4), Version(1, 34, 2), CATALOGUE, create_at_target=False)
    assert plan.clone == Version(1, 31, 11)  # 1.31.4 itself is no longer offered: AKS would refuse the create
    assert plan.hops == [Version(1, 32, 9), Version(1, 33, 6), Version(1, 34, 2)]


def test_a_blue_out_of_support_is_cloned_at_the_lowest_offered_minor_then_hops():
    plan = plan_versions(Version(1, 29, 9), Version(1, 33, 6), CATALOGUE, create_at_target=False)
    assert plan.clone == Version(1, 31, 11)
    assert plan.hops == [Version(1, 32, 9), Version(1, 33, 6)]
    assert plan.path == [Version(1, 31, 11), Version(1, 32, 9), Version(1, 33, 6)]


def test_create_at_target_is_one_create_even_from_an_unsupported_blue():
    plan = plan_versions(Version(1, 27, 3), Version(1, 34, 2), CATALOGUE, create_at_target=True)
    assert (plan.clone, plan.hops, plan.path) == (Version(1, 34, 2), [], [Version(1, 34, 2)])


def test_a_target_older_than_blue_is_refused_with_what_the_region_offers():
    with pytest.raises(PermanentError) as refused:
        plan_versions(Version(1, 33, 6), Version(1, 32, 9), CATALOGUE, create_at_target=True)
    assert refused.value.code == "DowngradeNotAllowed"
    assert "1.34 (1.34.1, 1.34.2)" in refused.value.message


def test_an_unoffered_target_names_every_offered_version():
    with pytest.raises(PermanentError) as refused:
        choose_target("1.30", CATALOGUE)
    assert refused.value.code == "VersionNotOffered"
    assert "1.31 (1.31.5, 1.31.8, 1.31.11), 1.32 (1.32.6, 1.32.9)" in refused.value.message
