"""Forms of the public pages; error messages speak pt-BR."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

FEEDBACK_COMMENT_MAX = 500


class FeedbackForm(FlaskForm):
    helpful = RadioField(
        "Esta página foi útil?",
        choices=[SelectChoice("sim", "Sim"), SelectChoice("nao", "Não")],
        validators=[InputRequired(message="Escolha “Sim” ou “Não”.")],
    )
    comment = TextAreaField(
        "Comentário (opcional)",
        description=f"Até {FEEDBACK_COMMENT_MAX} caracteres. Não escreva CPF, telefone, e-mail nem dados do seu "
                    "processo: esta mensagem não é lida como pedido e não recebe resposta.",
        validators=[Optional(), Length(max=FEEDBACK_COMMENT_MAX,
                                       message=f"O comentário pode ter até {FEEDBACK_COMMENT_MAX} caracteres.")],
    )


class LoginForm(FlaskForm):
    username = StringField("Usuário", validators=[InputRequired(message="Digite seu usuário."), Length(max=64)])
    password = PasswordField("Senha", validators=[InputRequired(message="Digite sua senha."), Length(max=256)])


class ReauthenticateForm(FlaskForm):
    password = PasswordField("Senha", validators=[InputRequired(message="Digite sua senha."), Length(max=256)])


FOLLOW_MAX_NUMBERS = 50


class FollowForm(FlaskForm):
    numbers = TextAreaField(
        "Números dos processos",
        description=(f"Um ou mais números CNJ por linha (separados por ponto e vírgula, vírgula ou espaço), até "
                     f"{FOLLOW_MAX_NUMBERS} de uma vez, com ou sem pontuação."),
        validators=[InputRequired(message="Digite ao menos um número de processo."), Length(max=5000)],
    )


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
