from .test_access_matrix import *  # noqa

def test_dbg(matrix_world):
    w = matrix_world
    c = w["app"].test_client()
    r = c.get("/api/v1/submissions", headers={"Authorization": f"Bearer {w['tokens']['tok_sg']}"})
    print(r.status_code, r.get_data(as_text=True)[:300])
    r = w["clients"]["tok_sg"].get("/api/v1/submissions", headers={"Authorization": f"Bearer {w['tokens']['tok_sg']}"})
    print(r.status_code, r.get_data(as_text=True)[:300])
    assert 0
