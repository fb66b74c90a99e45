//! `users.*`: who is calling, as ClearML's clients ask (`users.get_current_user`), and the
//! users by id. Runyard has one organisation, so every user's company is the same, unnamed one.

use crate::document::iso;
use crate::envelope::{required_str, Answer};
use crate::Ctx;
use runyard_api::{Role, User};
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

/// A user as ClearML's user document.
fn document(u: &User) -> Value {
    let role = match u.role {
        Role::Admin => "admin",
        Role::User | Role::Agent => "user",
    };
    json!({
        "id": u.id,
        "name": u.name,
        "given_name": u.name,
        "family_name": "",
        "role": role,
        "company": {"id": "", "name": ""},
        "created": iso(u.created),
        "preferences": {},
    })
}

/// `users.get_current_user`: the caller.
pub async fn get_current_user(ctx: &Ctx, who: &Principal) -> Answer {
    let user = ctx.store.user(&who.user_id).await?;
    Ok(json!({"user": document(&user), "getting_started": {}}))
}

/// `users.get_by_id`.
pub async fn get_by_id(ctx: &Ctx, body: &Value) -> Answer {
    let user = ctx.store.user(required_str(body, "user")?).await?;
    Ok(json!({"user": document(&user)}))
}
