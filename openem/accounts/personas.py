"""The people who use OpenEM, as demo logins and as test personas."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Role, Team, User

# Published (README, demo-setup): the password policy refuses it, so nobody can choose it for a real
# account; the personas are given it with set_password, which does not apply the policy.
DEMO_PASSWORD = "openem-demo-2026"
TEAM = "Rutland probation delivery unit"
OTHER_TEAM = "Leicester North probation delivery unit"
# Rutland is policed by Leicestershire Police (the force that sends the demo's crime batches).
POLICE_FORCE = "Leicestershire Police"


@dataclass(frozen=True)
class Persona:
    username: str
    first_name: str
    last_name: str
    role: Role
    in_team: bool = True
    staff: bool = False
    other_team: bool = False  # in a team of another delivery unit: sees none of Rutland's cases
    police_force: str = ""


PERSONAS = (
    Persona("alex.practitioner", "Alex", "Okafor", Role.PRACTITIONER),
    Persona("bea.practitioner", "Bea", "Lindqvist", Role.PRACTITIONER),
    Persona("morgan.manager", "Morgan", "Reid", Role.MANAGER),
    Persona("nadia.manager", "Nadia", "Kowalski", Role.MANAGER, in_team=False, other_team=True),
    Persona("omar.operator", "Omar", "Haddad", Role.OPERATOR, in_team=False),
    Persona("priya.police", "Priya", "Shah", Role.POLICE_ANALYST, in_team=False, police_force=POLICE_FORCE),
    Persona("vera.liaison", "Vera", "Campbell", Role.VICTIM_LIAISON, in_team=False),
    Persona("hana.caseworker", "Hana", "Mensah", Role.HUB_CASEWORKER, in_team=False),
    Persona("hugo.hubmanager", "Hugo", "Brennan", Role.HUB_MANAGER, in_team=False),
    Persona("nina.analyst", "Nina", "Patel", Role.NATIONAL_ANALYST, in_team=False),
    Persona("admin", "Ada", "Admin", Role.ADMINISTRATOR, in_team=False, staff=True),
)


def create_personas(password: str = DEMO_PASSWORD) -> dict[str, User]:
    team, _ = Team.objects.get_or_create(name=TEAM, defaults={"region": "East Midlands"})
    other_team, _ = Team.objects.get_or_create(name=OTHER_TEAM, defaults={"region": "East Midlands"})
    users: dict[str, User] = {}
    for p in PERSONAS:
        user, _ = User.objects.get_or_create(username=p.username)
        user.first_name, user.last_name, user.role = p.first_name, p.last_name, p.role.value
        user.email = f"{p.username}@openem.example"
        user.team = team if p.in_team else other_team if p.other_team else None
        user.is_staff = user.is_superuser = p.staff
        user.police_force = p.police_force
        user.set_password(password)
        user.save()
        users[p.username] = user
    return users
