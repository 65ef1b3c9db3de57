"""Users, roles and teams. Object-level access to cases is decided here, in one place."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models

from openem.engine.enums import LabelledEnum


class Role(LabelledEnum):
    PRACTITIONER = "practitioner"
    MANAGER = "manager"
    OPERATOR = "operator"
    POLICE_ANALYST = "police_analyst"
    VICTIM_LIAISON = "victim_liaison"
    HUB_CASEWORKER = "hub_caseworker"
    HUB_MANAGER = "hub_manager"
    NATIONAL_ANALYST = "national_analyst"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        return {
            "practitioner": "Probation practitioner",
            "manager": "Senior probation officer / manager",
            "operator": "Monitoring centre operator",
            "police_analyst": "Police analyst",
            "victim_liaison": "Victim liaison officer",
            "hub_caseworker": "Crime matching hub caseworker",
            "hub_manager": "Crime matching hub manager",
            "national_analyst": "National analyst (statistics)",
            "administrator": "Administrator",
        }[self.value]


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    region = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=32, choices=Role.choices(), default=Role.PRACTITIONER)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    # A police analyst works for one force and sees only that force's crime batches and searches.
    police_force = models.CharField(max_length=120, blank=True)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def must_use_two_factor(self) -> bool:
        """Roles in OPENEM_OTP_REQUIRED_ROLES (empty in the demo) sign in with a one-time code; so does anyone
        who can reach the Django admin when administrators must."""
        from django.conf import settings

        required = settings.OPENEM_OTP_REQUIRED_ROLES
        return self.role in required or (self.is_staff and Role.ADMINISTRATOR.value in required)

    # What each role may see. Views ask these, never compare role strings themselves.
    @property
    def sees_case_records(self) -> bool:
        return self.is_superuser or self.role in (Role.PRACTITIONER, Role.MANAGER, Role.OPERATOR, Role.ADMINISTRATOR)

    @property
    def can_set_up_orders(self) -> bool:
        return self.role in (Role.PRACTITIONER, Role.MANAGER)

    @property
    def decides_enforcement(self) -> bool:
        """Enforcement decisions are the practitioner's (or their manager's), never the centre's."""
        return self.role in (Role.PRACTITIONER, Role.MANAGER)

    @property
    def works_alerts(self) -> bool:
        """Acknowledge, note, record contact, clear: the case's practitioner, manager and the centre."""
        return self.role in (Role.PRACTITIONER, Role.MANAGER, Role.OPERATOR)

    @property
    def manages_devices(self) -> bool:
        """Device stock, device keys and gateways are the monitoring centre's (and administrators')."""
        return self.is_superuser or self.role in (Role.OPERATOR, Role.ADMINISTRATOR)

    @property
    def sees_centre(self) -> bool:
        """The monitoring-centre page: the centre itself, administrators, and managers (scoped to their team)."""
        return self.is_superuser or self.role in (Role.OPERATOR, Role.ADMINISTRATOR, Role.MANAGER)

    @property
    def liaises_with_victims(self) -> bool:
        """The victim liaison officer: what protects a victim (places, zones, the decision), never the trail."""
        return self.role == Role.VICTIM_LIAISON

    @property
    def works_crime_hub(self) -> bool:
        """The crime matching hub: reviews matches (caseworker) and authorises their release (manager)."""
        return self.role in (Role.HUB_CASEWORKER, Role.HUB_MANAGER)

    @property
    def reviews_crime_matches(self) -> bool:
        """Qualifies or rejects each possible match, with a reason: the hub's caseworker."""
        return self.role == Role.HUB_CASEWORKER

    @property
    def releases_crime_matches(self) -> bool:
        """Authorises the release of a qualified match to the police: the hub's manager."""
        return self.role == Role.HUB_MANAGER

    @property
    def sends_crime_batches(self) -> bool:
        """A police analyst of a force: their force's batches and searches, and the matches released to it."""
        return self.role == Role.POLICE_ANALYST and bool(self.police_force)

    @property
    def analyses_nationally(self) -> bool:
        """The national analyst: every statistic, no personal record."""
        return self.role == Role.NATIONAL_ANALYST

    @property
    def sees_statistics(self) -> bool:
        """Management information: managers (their region's) and the national analyst (all of it)."""
        return self.analyses_nationally or (self.role == Role.MANAGER and bool(self.statistics_region))

    @property
    def statistics_region(self) -> str:
        """The region whose statistics a manager sees (their team's); "" for the national analyst (all)."""
        if self.analyses_nationally:
            return ""
        return self.team.region if self.role == Role.MANAGER and self.team_id and self.team else ""

    @property
    def home_url_name(self) -> str:
        """Where signing in (and the site's root) takes this role."""
        if self.analyses_nationally:
            return "reports:statistics"
        if self.liaises_with_victims:
            return "assessments:victims"
        if self.role == Role.POLICE_ANALYST:
            return "crime:batches"
        if self.works_crime_hub:
            return "crime:queue"
        return "portal:cases"

    @property
    def sees_all_cases(self) -> bool:
        """Operators monitor every active order; administrators manage reference data."""
        return self.is_superuser or self.role in (Role.OPERATOR, Role.ADMINISTRATOR)


class ApiToken(models.Model):
    """A token for the read API, acting as its user with the same access; only a digest is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} / {self.name}"

    @classmethod
    def issue(cls, user: User, name: str, by: User | None = None, how: str = "") -> tuple[ApiToken, str]:
        """A new token for ``user``, issued by ``by`` (None: the command line), audited here so that no
        way of issuing one escapes the log."""
        import hashlib
        import secrets

        from openem.audit.models import AuditAction, AuditEvent

        token = secrets.token_urlsafe(32)
        api_token = cls.objects.create(user=user, name=name, digest=hashlib.sha256(token.encode()).hexdigest())
        AuditEvent.record(
            by,
            AuditAction.CREDENTIAL,
            obj=api_token,
            summary=f'API token "{name}" issued for {user.get_username()}' + (f" ({how})" if how else ""),
        )
        return api_token, token

    @classmethod
    def user_of_request(cls, request: Any) -> User | None:
        """The user whose token the request carries (``Authorization: Token <token>``), kept on the request as
        ``api_user`` for the audit of refusals (accounts.middleware); None without a valid token."""
        auth = request.headers.get("Authorization", "")
        user = cls.user_for(auth[6:]) if auth.startswith("Token ") else None
        if user is not None:
            request.api_user = user
        return user

    @classmethod
    def user_for(cls, token: str) -> User | None:
        import hashlib

        from django.utils import timezone

        found = cls.objects.select_related("user").filter(digest=hashlib.sha256(token.encode()).hexdigest()).first()
        if found is None or not found.user.is_active:
            return None
        cls.objects.filter(pk=found.pk).update(last_used=timezone.now())
        return found.user
