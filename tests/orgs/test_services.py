"""Organization services keep branding data valid whoever saves it."""

from __future__ import annotations

import pytest

from app.orgs.services import create_organization


def test_hostile_branding_is_refused_outside_config_as_code(tenant):
    with pytest.raises(ValueError, match="branding.logo_url"):
        create_organization(tenant, "evil", "Evil", branding={"logo_url": "javascript:alert(1)"})
    with pytest.raises(ValueError, match="branding.colors"):
        create_organization(
            tenant, "evil", "Evil", branding={"colors": {"primary": "red;}body{display:none"}}
        )


def test_valid_branding_is_stored_cleaned(tenant):
    org = create_organization(
        tenant,
        "good",
        "Good",
        branding={"logo_url": "https://cdn.example/logo.svg", "support_email": ""},
    )
    assert org.branding == {"logo_url": "https://cdn.example/logo.svg"}
