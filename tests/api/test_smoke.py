def test_spec_and_users(client, auth, user):
    doc = client.get("/api/v1/openapi.json")
    assert doc.status_code == 200, doc.data[:500]
    r = client.get("/api/v1/users", headers=auth)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["items"][0]["email"] == "alice@example.com"
